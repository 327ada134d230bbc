"""Option strategies: the interface the options engine drives once a session with the chain and
the book, and the built-in ones that sell premium: covered_call, bull_put_spread and iron_condor.

Each enters by delta and days to expiry: the listed expiry nearest ``dte`` days out, the short
legs at ``short_delta``, the long legs (the wings) ``width`` dollars further out of the money, at
``long_delta``, or (neither given) at the next listed strike out. A position is closed at a profit
target (a share of the credit captured), a stop (a loss of a multiple of the credit) or when no
more than ``exit_dte`` days are left, whichever comes first; ``max_open`` positions at a time.
What is held is what the fills said (legs, units, the price of each leg); a leg the book no longer
holds (settled at expiry, closed by someone else) is no longer part of the position.
"""

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput, NotFound
from marketdata.core.options import STANDARD_MULTIPLIER, OptionContract, Right
from strategies.core.base import NoParameters, parameters_validate
from strategies.core.config import RiskCaps, Sizing, StrategyConfig
from strategies.core.option_chain import ChainSnapshot
from strategies.core.options import OptionFill, OptionLeg, OptionOrder, OptionPortfolioView
from strategies.core.registry import register
from strategies.core.types import Fill, Order, OrderType, Side


class OptionStrategy(ABC):
    """A strategy that trades the options of one underlying (and its shares, for a covered call).

    The engine calls on_chain(chain, book) once per session at the close, after the session's
    expiries are settled and the book is marked at the chain, and places the orders it returns;
    on_option_fill and on_fill tell it of their fills. Option strategies trade daily chains and
    size by their parameters: the config's sizing and risk sections (share sizing) stay unset.
    """

    name: ClassVar[str]
    Parameters: ClassVar[type[BaseModel]] = NoParameters

    def __init__(self, config: StrategyConfig) -> None:
        self.config = config
        self.params = parameters_validate(self.Parameters, config.parameters, self.name)
        if len(config.universe) != 1:
            named = ", ".join(config.universe) or "none"
            raise InvalidInput(
                f"strategy {self.name!r} trades the options of one underlying; the config names {named}"
            )
        if config.timeframe is not Timeframe.D1:
            raise InvalidInput(
                f"strategy {self.name!r} trades daily option chains: its timeframe is 1d, not "
                f"{config.timeframe}"
            )
        if config.sizing != Sizing() or config.risk != RiskCaps():
            raise InvalidInput(
                f"strategy {self.name!r} is sized by its parameters (units, risk_pct): the sizing "
                "and risk sections of a config are for share strategies; drop them"
            )

    @property
    def underlying(self) -> str:
        return self.config.universe[0]

    @abstractmethod
    def on_chain(self, chain: ChainSnapshot, book: OptionPortfolioView) -> list[OptionOrder | Order]:
        """The orders of this session, decided on its chain and the book (marked at it)."""

    def on_option_fill(self, fill: OptionFill) -> None:
        """One of the strategy's option orders (partly) filled."""

    def on_fill(self, fill: Fill) -> None:
        """One of the strategy's share orders (partly) filled."""


# --- strategies that sell premium -----------------------------------------------------------------


class PremiumParameters(BaseModel):
    """Entry by days to expiry, exits, sizing and order type: what every premium seller takes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dte: int = Field(35, ge=1)  # calendar days to the expiry sought at entry
    exit_dte: int = Field(7, ge=0)  # close with this many days to expiry left (0: hold to expiry)
    profit_target: float | None = Field(0.5, gt=0, le=1)  # share of the credit captured
    stop_multiple: float | None = Field(2.0, gt=0)  # loss as a multiple of the credit
    short_delta: float = Field(0.30, gt=0, lt=1)
    units: int = Field(1, ge=1)
    max_open: int = Field(1, ge=1)
    order_type: Literal["market", "limit"] = "market"  # limit: at the mid of the legs

    @model_validator(mode="after")
    def _entry_before_exit(self) -> "PremiumParameters":
        if self.dte <= self.exit_dte:
            raise ValueError(
                f"dte ({self.dte}) must be above exit_dte ({self.exit_dte}): a position would be "
                "closed as soon as it opened"
            )
        return self


class SpreadParameters(PremiumParameters):
    """A defined-risk spread: its wings, and sizing by max loss as an alternative to units."""

    width: float | None = Field(None, gt=0)  # dollars from the short strike to the long one
    long_delta: float | None = Field(None, gt=0, lt=1)
    risk_pct: float | None = Field(None, gt=0, le=100)  # of equity, lost at most by a position

    @model_validator(mode="after")
    def _one_wing_one_size(self) -> "SpreadParameters":
        if self.width is not None and self.long_delta is not None:
            raise ValueError("give width or long_delta for the long legs, not both")
        if self.long_delta is not None and self.long_delta >= self.short_delta:
            raise ValueError(
                f"long_delta ({self.long_delta}) must be below short_delta ({self.short_delta}): "
                "the long legs are further out of the money"
            )
        if self.risk_pct is not None and "units" in self.model_fields_set:
            raise ValueError("size by units or by risk_pct, not both")
        return self


@dataclass
class HeldPosition:
    """A position the strategy opened: ``units`` of its legs, each bought or sold at its price."""

    order_id: str
    legs: tuple[OptionLeg, ...]
    prices: tuple[float, ...]  # per leg, per share, as filled
    units: int
    opened: datetime
    closing: OptionOrder | None = None

    @property
    def entry_price(self) -> float:
        """Net per unit per share, debit positive (a credit received is negative)."""
        return sum(leg.signed_ratio * price for leg, price in zip(self.legs, self.prices, strict=True))

    @property
    def expiry(self) -> date:
        return min(leg.contract.expiry for leg in self.legs)


@dataclass
class _Working:
    order: OptionOrder
    position: HeldPosition | None  # the position it closes; None for an entry
    filled: int = 0


class PremiumStrategy(OptionStrategy):
    """Opens a position of legs for a credit when fewer than max_open are held or opening, and closes
    each at its profit target, its stop or its exit days to expiry (checked in that order: days,
    stop, target) at the mid of its legs."""

    Parameters: ClassVar[type[BaseModel]] = PremiumParameters
    params: PremiumParameters

    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        self.positions: list[HeldPosition] = []
        self._working: dict[str, _Working] = {}

    @abstractmethod
    def entry_legs(self, chain: ChainSnapshot, expiry: date) -> tuple[OptionLeg, ...] | None:
        """The legs of one unit of a new position expiring at expiry, by strike; None: no trade."""

    def entry_units(self, legs: tuple[OptionLeg, ...], credit: float, book: OptionPortfolioView) -> int:
        """Units of a new position (credit: its net mark per share, negative)."""
        return self.params.units

    def may_enter(self, book: OptionPortfolioView) -> bool:
        """Whether the book is ready for a new position (beyond max_open)."""
        return True

    # --- the engine's calls ----------------------------------------------------------------------

    def on_chain(self, chain: ChainSnapshot, book: OptionPortfolioView) -> list[OptionOrder | Order]:
        if chain.underlying != self.underlying:
            raise InvalidInput(f"strategy {self.name!r} trades {self.underlying}, not {chain.underlying}")
        self._forget_ended()
        self._reconcile(book)
        orders: list[OptionOrder | Order] = []
        for held in list(self.positions):  # a copy: what a split leaves waits for the next session
            reason = None if held.closing else self.exit_reason(held, chain)
            if not reason:
                continue
            tradable = tuple(leg for leg in held.legs if _two_sided(leg, chain))
            if not tradable:  # nothing quoted both ways to close it with today
                continue
            closed = self._split(held, tradable) if len(tradable) < len(held.legs) else held
            reverse = tuple(OptionLeg(leg.contract, _other(leg.side), leg.ratio) for leg in tradable)
            closed.closing = self._place(reverse, closed.units, chain, reason, closed)
            orders.append(closed.closing)
        opening = any(w.position is None for w in self._working.values())
        if not opening and len(self.positions) < self.params.max_open and self.may_enter(book):
            entry = self._entry(chain, book)
            if entry is not None:
                orders.append(entry)
        return orders

    def on_option_fill(self, fill: OptionFill) -> None:
        working = self._working.get(fill.order_id)
        if working is None:
            raise InvalidInput(f"a fill of option order {fill.order_id}, which {self.name!r} did not place")
        working.filled += fill.qty
        if working.filled >= working.order.qty:
            del self._working[fill.order_id]
        position = working.position
        if position is not None:
            position.units -= fill.qty
            if position.units <= 0:
                self.positions.remove(position)
            elif fill.order_id not in self._working:
                position.closing = None
            return
        opened = next((p for p in self.positions if p.order_id == fill.order_id), None)
        if opened is None:
            legs = working.order.legs
            self.positions.append(HeldPosition(fill.order_id, legs, fill.leg_prices, fill.qty, fill.ts))
            return
        total = opened.units + fill.qty  # a later part of the same entry: prices averaged by units
        opened.prices = tuple(
            (old * opened.units + new * fill.qty) / total
            for old, new in zip(opened.prices, fill.leg_prices, strict=True)
        )
        opened.units = total

    # --- decisions -------------------------------------------------------------------------------

    def exit_reason(self, position: HeldPosition, chain: ChainSnapshot) -> str | None:
        """Why the position closes now, or None."""
        p = self.params
        days = chain.days_to_expiry(position.expiry)
        if days <= p.exit_dte:
            return f"{days} days to expiry"
        try:
            value = chain.net_mark(position.legs)
        except (NotFound, InvalidInput):  # a leg the chain cannot mark today: decide tomorrow
            return None
        basis = abs(position.entry_price)
        if basis == 0:
            return None
        gain = (value - position.entry_price) / basis  # per unit of the credit (or debit)
        if p.stop_multiple is not None and -gain >= p.stop_multiple:
            return f"stop: lost {-gain:.2f}x the credit"
        if p.profit_target is not None and gain >= p.profit_target:
            return f"profit target: {gain:.0%} of the credit captured"
        return None

    def _entry(self, chain: ChainSnapshot, book: OptionPortfolioView) -> OptionOrder | None:
        try:
            expiry = chain.expiry_near(self.params.dte, at_least=self.params.exit_dte + 1)
            legs = self.entry_legs(chain, expiry)
            credit = None if legs is None else chain.net_mark(legs)
        except (NotFound, InvalidInput):  # nothing listed or priced to open today
            return None
        if legs is None or not credit < 0:  # no credit to collect
            return None
        units = self.entry_units(legs, credit, book)
        if units < 1:
            return None
        reason = f"open {self.name}: {chain.days_to_expiry(expiry)} days to expiry"
        return self._place(legs, units, chain, reason, None)

    def _place(
        self,
        legs: tuple[OptionLeg, ...],
        units: int,
        chain: ChainSnapshot,
        reason: str,
        closes: HeldPosition | None,
    ) -> OptionOrder:
        expected = chain.net_mark(legs)
        limit = self.params.order_type == "limit"
        order = OptionOrder(
            legs,
            units,
            order_type=OrderType.LIMIT if limit else OrderType.MARKET,
            limit_price=expected if limit else None,
            reduce_only=closes is not None,
            reason=reason,
            expected_price=expected,
            exposure=chain.exposure(legs, 1),
        )
        self._working[order.id] = _Working(order, closes)
        return order

    # --- bookkeeping -----------------------------------------------------------------------------

    def _forget_ended(self) -> None:
        """Orders that ended without (all of) their fills: rejected, expired or canceled."""
        for order_id, working in list(self._working.items()):
            if working.order.status.terminal:
                del self._working[order_id]
                if working.position is not None and working.position.closing is working.order:
                    working.position.closing = None

    def _split(self, position: HeldPosition, legs: tuple[OptionLeg, ...]) -> HeldPosition:
        """The part of position made of legs, to be closed now; the rest (legs not quoted both ways,
        worth about nothing) stays held to expire: as a position of its own while it has a short leg
        (it still needs the margin or shares it covers), untracked when it is long legs alone (it can
        lose no more)."""
        prices = dict(zip(position.legs, position.prices, strict=True))

        def of(some: tuple[OptionLeg, ...]) -> HeldPosition:
            return replace(position, legs=some, prices=tuple(prices[leg] for leg in some), closing=None)

        rest = tuple(leg for leg in position.legs if leg not in legs)
        part = of(legs)
        at = self.positions.index(position)
        self.positions[at] = part
        if any(leg.side is Side.SELL for leg in rest):
            self.positions.insert(at + 1, of(rest))
        return part

    def _reconcile(self, book: OptionPortfolioView) -> None:
        """Legs the book no longer holds leave their positions; a position with none left is over."""
        for position in list(self.positions):
            kept = [
                (leg, price)
                for leg, price in zip(position.legs, position.prices, strict=True)
                if book.option_position(leg.symbol) != 0
            ]
            if not kept:
                self.positions.remove(position)
            elif len(kept) < len(position.legs):
                position.legs = tuple(leg for leg, _ in kept)
                position.prices = tuple(price for _, price in kept)


def _two_sided(leg: OptionLeg, chain: ChainSnapshot) -> bool:
    return leg.symbol in chain and chain.quote(leg.symbol).two_sided


def _other(side: Side) -> Side:
    return Side.SELL if side is Side.BUY else Side.BUY


def wing(
    chain: ChainSnapshot,
    short: OptionContract,
    *,
    width: float | None = None,
    delta: float | None = None,
) -> OptionContract | None:
    """The long leg that caps a short one: among the contracts of its expiry and right further out
    of the money, the one nearest ``delta`` (absolute), else nearest ``width`` dollars out, else the
    nearest strike (the lower strike on a tie); None when none is listed further out."""
    lower = short.right is Right.PUT
    further = [
        c
        for c in chain.contracts(short.expiry, short.right)
        if (c.strike < short.strike if lower else c.strike > short.strike)
    ]
    if not further:
        return None
    if delta is not None:

        def gap(contract: OptionContract) -> float:
            found = abs(abs(chain.quote(contract.symbol).delta) - delta)
            return found if math.isfinite(found) else math.inf

    else:
        target = float(short.strike) + (-1 if lower else 1) * (width or 0.0)

        def gap(contract: OptionContract) -> float:
            return abs(float(contract.strike) - target)

    return min(further, key=lambda c: (gap(c), c.strike))


class SpreadStrategy(PremiumStrategy):
    """A defined-risk credit spread: sized by units or by risk_pct of equity over its max loss."""

    Parameters: ClassVar[type[BaseModel]] = SpreadParameters
    params: SpreadParameters

    def entry_units(self, legs: tuple[OptionLeg, ...], credit: float, book: OptionPortfolioView) -> int:
        if self.params.risk_pct is None:
            return self.params.units
        max_loss = OptionOrder(legs, 1).max_loss(credit)
        if max_loss is None or max_loss <= 0:  # a spread that cannot lose is a mispriced chain
            return 0
        return math.floor(book.equity * self.params.risk_pct / 100 / max_loss)

    def side_legs(self, chain: ChainSnapshot, expiry: date, right: Right) -> tuple[OptionLeg, ...] | None:
        """The short leg of a right at short_delta and its wing, by strike; None without a wing."""
        p = self.params
        short = chain.by_delta(expiry, right, p.short_delta)
        long = wing(chain, short, width=p.width, delta=p.long_delta)
        if long is None:
            return None
        legs = (OptionLeg(long, Side.BUY), OptionLeg(short, Side.SELL))
        return legs if right is Right.PUT else legs[::-1]


@register
class BullPutSpread(SpreadStrategy):
    """Sell a put at short_delta, buy a put further down: a credit that is kept while the underlying
    stays above the short strike."""

    name = "bull_put_spread"

    def entry_legs(self, chain: ChainSnapshot, expiry: date) -> tuple[OptionLeg, ...] | None:
        return self.side_legs(chain, expiry, Right.PUT)


class CondorParameters(SpreadParameters):
    short_delta: float = Field(0.16, gt=0, lt=1)


@register
class IronCondor(SpreadStrategy):
    """A bull put spread and a bear call spread of one expiry: short put and call at short_delta,
    long wings further out; the credit is kept while the underlying stays between the short strikes."""

    name = "iron_condor"
    Parameters = CondorParameters

    def entry_legs(self, chain: ChainSnapshot, expiry: date) -> tuple[OptionLeg, ...] | None:
        puts = self.side_legs(chain, expiry, Right.PUT)
        calls = self.side_legs(chain, expiry, Right.CALL)
        if puts is None or calls is None or puts[-1].contract.strike >= calls[0].contract.strike:
            return None  # no wing, or the short strikes cross: not a condor
        return puts + calls


@register
class CoveredCall(PremiumStrategy):
    """Hold 100 x units shares per position and sell units calls at short_delta against them; the
    call is closed at its profit target, stop or exit days to expiry and a new one sold the next
    session. Shares are bought first; a call is sold only once the book holds the shares it covers."""

    name = "covered_call"

    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        self._share_order: Order | None = None

    @property
    def shares_needed(self) -> int:
        return self.params.units * self.params.max_open * STANDARD_MULTIPLIER

    def on_chain(self, chain: ChainSnapshot, book: OptionPortfolioView) -> list[OptionOrder | Order]:
        if self._share_order is not None and self._share_order.status.terminal:
            self._share_order = None
        shares: list[OptionOrder | Order] = []
        missing = self.shares_needed - book.position(self.underlying)
        if missing > 0 and self._share_order is None:
            self._share_order = Order(
                self.underlying, Side.BUY, qty=float(missing), reason="shares to cover the calls"
            )
            shares.append(self._share_order)
        return shares + super().on_chain(chain, book)

    def may_enter(self, book: OptionPortfolioView) -> bool:
        held = book.position(self.underlying)
        covered = sum(p.units for p in self.positions) * STANDARD_MULTIPLIER
        return held - covered >= self.params.units * STANDARD_MULTIPLIER

    def entry_legs(self, chain: ChainSnapshot, expiry: date) -> tuple[OptionLeg, ...] | None:
        return (OptionLeg(chain.by_delta(expiry, Right.CALL, self.params.short_delta), Side.SELL),)
