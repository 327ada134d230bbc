"""Option orders as strategies build them: legs, one order of one to four legs filled at a net
price, its fill, what it can lose at expiry, and the greeks exposure of a book of options.

Prices of an option order are net prices per unit of the order, per share of the underlying (as
quoted): positive is a debit (paid), negative a credit (received). One unit of a vertical spread
is one contract of each leg; money is price x multiplier x units.
"""

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple, Protocol

from marketdata.core.errors import InvalidInput
from marketdata.core.options import OptionContract, Right
from strategies.core.types import OrderStatus, OrderType, PortfolioView, Side, TimeInForce

MAX_LEGS = 4  # Alpaca's and the exchanges' limit for one complex order


@dataclass(frozen=True, slots=True)
class OptionLeg:
    """One leg: buy or sell ``ratio`` contracts of ``contract`` per unit of the order."""

    contract: OptionContract
    side: Side
    ratio: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.contract, OptionContract):
            raise InvalidInput(f"an option leg needs an OptionContract, not {self.contract!r}")
        object.__setattr__(self, "side", Side(self.side))
        if isinstance(self.ratio, bool) or not isinstance(self.ratio, int) or self.ratio < 1:
            raise InvalidInput(f"a leg's ratio must be a positive whole number, not {self.ratio!r}")

    @property
    def symbol(self) -> str:
        return self.contract.symbol

    @property
    def signed_ratio(self) -> int:
        """Contracts held per unit of the order: positive long, negative short."""
        return self.ratio * self.side.sign

    def intrinsic(self, spot: float) -> float:
        """The leg's value at expiry per unit of the order, per share (negative for a short leg)."""
        strike = float(self.contract.strike)
        value = max(spot - strike, 0.0) if self.contract.right is Right.CALL else max(strike - spot, 0.0)
        return self.signed_ratio * value


def option_terms_check(symbols, underlyings, qty, order_type: OrderType, limit_price) -> None:
    """The terms every option order must meet, however it is held (a strategy's OptionOrder, a
    broker's request): 1 to 4 legs of distinct contracts on one underlying, a whole number of
    units above 0, market or limit, a limit price (a finite number) on a limit order only."""
    if not 1 <= len(symbols) <= MAX_LEGS:
        raise InvalidInput(f"an option order has 1 to {MAX_LEGS} legs, not {len(symbols)}")
    if len(set(symbols)) != len(symbols):
        raise InvalidInput(f"an option order names a contract twice: {', '.join(symbols)}")
    if len(set(underlyings)) != 1:
        raise InvalidInput(
            f"an option order's legs must share one underlying, not {', '.join(sorted(set(underlyings)))}"
        )
    if isinstance(qty, bool) or not isinstance(qty, int | Decimal) or qty < 1 or qty != int(qty):
        raise InvalidInput(f"an option order's quantity must be a whole number of units above 0, not {qty!r}")
    if order_type not in (OrderType.MARKET, OrderType.LIMIT):
        raise InvalidInput(f"an option order is market or limit, not {order_type}")
    if (order_type is OrderType.LIMIT) != (limit_price is not None):
        raise InvalidInput("a limit option order needs a limit price, and only a limit order has one")
    if limit_price is not None and not abs(limit_price) < float("inf"):  # NaN too
        raise InvalidInput(f"an option order's limit price must be a number, not {limit_price}")


_order_numbers = itertools.count(1)


@dataclass(eq=False, slots=True)
class OptionOrder:
    """An order of one to four option legs on one underlying, filled as one at a net price.

    ``qty`` is the number of units (spreads); ``limit_price`` is the net price per unit per share,
    positive for a debit, negative for a credit, and only on a limit order. ``reduce_only`` marks
    an order that closes (part of) legs held. ``expected_price`` (net, per unit per share) and
    ``exposure`` (greeks of one unit, in money) are what the strategy saw in the chain when it
    decided: risk measures a market order by them.
    """

    legs: tuple[OptionLeg, ...]
    qty: int
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    tif: TimeInForce = TimeInForce.DAY
    reduce_only: bool = False
    reason: str = ""
    expected_price: float | None = None
    exposure: "OptionExposure | None" = None
    id: str = field(default_factory=lambda: f"oo{next(_order_numbers)}")
    # Set by the broker
    status: OrderStatus = OrderStatus.NEW
    filled_qty: int = 0
    avg_fill_price: float = 0.0  # net, per unit per share

    def __post_init__(self) -> None:
        self.legs = tuple(self.legs)
        if any(not isinstance(leg, OptionLeg) for leg in self.legs):
            raise InvalidInput("an option order's legs must be OptionLeg values")
        option_terms_check(
            [leg.symbol for leg in self.legs],
            [leg.contract.underlying for leg in self.legs],
            self.qty,
            self.order_type,
            self.limit_price,
        )
        self.qty = int(self.qty)
        if len({leg.contract.multiplier for leg in self.legs}) != 1:
            raise InvalidInput("an option order's legs must share one multiplier")
        if self.expected_price is not None and not abs(self.expected_price) < float("inf"):  # NaN too
            raise InvalidInput(
                f"an option order's expected price must be a number, not {self.expected_price}"
            )

    @property
    def underlying(self) -> str:
        return self.legs[0].contract.underlying

    @property
    def multiplier(self) -> int:
        return self.legs[0].contract.multiplier

    @property
    def remaining(self) -> int:
        return self.qty - self.filled_qty

    def value_at_expiry(self, spot: float) -> float:
        """What the legs are worth at expiry with the underlying at ``spot``, per unit per share."""
        return sum(leg.intrinsic(spot) for leg in self.legs)

    def max_loss(self, net_price: float) -> float | None:
        """The most one unit can lose at expiry, in money, when opened at ``net_price`` (per share,
        debit positive); None when the loss is unbounded (more calls sold than bought)."""
        call_slope = sum(leg.signed_ratio for leg in self.legs if leg.contract.right is Right.CALL)
        if call_slope < 0:
            return None
        spots = [0.0, *(float(leg.contract.strike) for leg in self.legs)]
        worst = min(self.value_at_expiry(spot) for spot in spots) - net_price
        return max(-worst, 0.0) * self.multiplier


class OptionFill(NamedTuple):
    """An option order's execution: ``qty`` units at ``net_price`` (per unit per share, debit
    positive), the price of each leg in the order of the legs, and the commission of all its
    contracts."""

    order_id: str
    underlying: str
    qty: int
    net_price: float
    leg_prices: tuple[float, ...]
    commission: float
    ts: datetime


class OptionExposure(NamedTuple):
    """Greeks of a book of options in money: delta as the value of the shares it moves like
    (delta x multiplier x contracts x spot; negative is short), vega per one volatility point,
    theta per calendar day."""

    delta: float = 0.0
    vega: float = 0.0
    theta: float = 0.0

    def __add__(self, other: "OptionExposure") -> "OptionExposure":  # type: ignore[override]
        return OptionExposure(self.delta + other.delta, self.vega + other.vega, self.theta + other.theta)


class OptionPortfolioView(PortfolioView, Protocol):
    """A portfolio that holds options as well: what risk and strategies read of them."""

    def option_position(self, symbol: str) -> int:
        """Contracts held of an OCC symbol (negative when short)."""
        ...

    def option_exposure(self) -> OptionExposure:
        """The greeks of all options held, marked at the last quotes."""
        ...
