"""A book of option contracts and shares of their underlyings, with cash: the portfolio an options
strategy trades, in backtests and on paper.

It applies option fills (contracts and average price per symbol, realised P&L per leg as legs
close) and share fills, marks contracts to a session's chain by quote or by model, and settles
contracts at expiry: on the first session at or after a contract's expiry (the expiry session
itself when it is one, at its close), an in-the-money option settles in cash at its intrinsic
value ("cash" mode) or is exercised or assigned into shares at its strike ("assign" mode); an
option at or out of the money expires worthless. Every settlement is recorded.

    equity = cash + shares x spot + sum(contracts x mark x multiplier)

Buying power is what the book's cash can still carry: cash (plus the shares' net value less their
gross, as Portfolio counts shorts) less what the options held could cost at expiry. For each
underlying and expiry, that cost is the worst value of its contracts at expiry over every price of
the underlying (at 0 and at each strike; short calls beyond the long ones must be covered by shares,
which count at the underlying's price), so a defined-risk spread uses its max loss once its premium
is in cash, a cash-secured put its strike x multiplier less the premium received, a covered call
nothing beyond its shares. Short calls that neither long calls of the same expiry nor shares cover
(a naked call) are refused, and so is an order the buying power cannot carry; a calendar spread's
long call does not cover its short call of another expiry.

Each spread opened by one fill is followed as one trade until all of its contracts are closed
(by later fills or at expiry): a closing fill that closes whole units of it gives the trade of those
units; legs closed one by one give the trade when the last is. Closing contracts are matched to the
spreads that hold them oldest first.
"""

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, NamedTuple

from execution.core.portfolio import Portfolio, Position
from marketdata.core.errors import InvalidInput
from marketdata.core.options import OptionContract, Right
from strategies.core.option_chain import ChainSnapshot
from strategies.core.options import OptionExposure, OptionFill, OptionLeg, OptionOrder
from strategies.core.types import Fill, Order, Side

Settle = Literal["cash", "assign"]
MarkBy = Literal["quote", "model"]
TOLERANCE = 1e-9  # of money compared after float arithmetic


def book_terms_check(settlement: str, marks: str) -> None:
    """InvalidInput unless contracts settle at expiry in "cash" or "assign" mode and are marked by
    "quote" or "model"."""
    if settlement not in ("cash", "assign"):
        raise InvalidInput(f"expiry settlement is 'cash' or 'assign', not {settlement!r}")
    if marks not in ("quote", "model"):
        raise InvalidInput(f"options are marked by 'quote' or 'model', not {marks!r}")


class OptionTradeLeg(NamedTuple):
    """One leg of a closed spread: ``contracts`` held (negative short), bought or sold at
    ``entry_price`` and closed at ``exit_price`` (per share; the average over its closes), and its
    P&L in money before commissions: (exit - entry) x contracts x multiplier."""

    symbol: str
    contracts: int
    entry_price: float
    exit_price: float
    pnl: float


class OptionTrade(NamedTuple):
    """A spread opened by one fill and closed (or settled) in full: ``units`` of it, the net price
    paid per unit per share at entry (negative: a credit received), the legs' net value at exit per
    unit per share (the same legs, the same sign convention; what closing them was worth), the
    greeks of the position at entry, and its P&L in money after every commission of its contracts:
    (exit_price - entry_price) x units x multiplier - commission."""

    order_id: str  # the order that opened it
    underlying: str
    units: int
    legs: tuple[OptionTradeLeg, ...]
    entry_time: datetime
    exit_time: datetime
    entry_price: float
    exit_price: float
    entry_exposure: OptionExposure
    commission: float
    pnl: float
    exit_reason: str  # the closing orders' reasons and the settlements', in order


class Settlement(NamedTuple):
    """A contract settled at expiry: ``contracts`` held then (negative short), its value per share
    (intrinsic in cash mode; 0 when out of the money or settled in shares), its realised P&L in
    money, the share fill of an exercise or assignment (at the strike), and the reason: expired
    (worthless), cash_settled, exercised (held long) or assigned (held short)."""

    ts: datetime
    symbol: str
    contracts: int
    price: float
    pnl: float
    reason: str
    fill: Fill | None = None


@dataclass
class _SpreadLeg:
    symbol: str
    ratio: int  # signed contracts per unit
    entry_price: float
    closed: int = 0  # contracts closed so far of the spread's units (unsigned)
    exit_value: float = 0.0  # sum of exit price x contracts closed


@dataclass
class _Spread:
    order_id: str
    underlying: str
    multiplier: int
    units: int
    legs: list[_SpreadLeg]
    entry_time: datetime
    entry_commission: float
    exposure: OptionExposure
    exit_commission: float = 0.0
    exit_time: datetime | None = None
    reasons: list[str] = field(default_factory=list)

    def closed_units(self) -> int | None:
        """The units closed when every leg is closed by the same number of units, else None."""
        units = {leg.closed / abs(leg.ratio) for leg in self.legs}
        if len(units) != 1:
            return None
        closed = units.pop()
        return int(closed) if closed and closed == int(closed) else None


class OptionBook(Portfolio):
    """Cash, shares (as Portfolio holds them) and option contracts. ``settlement``: "cash" or
    "assign"; ``marks``: contracts marked by "quote" (the mid, or the model where a quote is
    one-sided) or by "model" (Black-Scholes-Merton at the quote's implied volatility)."""

    def __init__(self, cash: float, *, settlement: Settle = "cash", marks: MarkBy = "quote") -> None:
        book_terms_check(settlement, marks)
        super().__init__(cash)
        self.settlement = settlement
        self.marks_by = marks
        self.option_positions: dict[str, Position] = {}  # qty in contracts, prices per share
        self.option_marks: dict[str, float] = {}
        self.contracts: dict[str, OptionContract] = {}
        self.chains: dict[str, ChainSnapshot] = {}  # the latest of each underlying
        self.option_trades: list[OptionTrade] = []
        self.settlements: list[Settlement] = []
        self._spreads: list[_Spread] = []

    # --- OptionPortfolioView ------------------------------------------------------------------------

    def option_position(self, symbol: str) -> int:
        held = self.option_positions.get(symbol)
        return int(held.qty) if held else 0

    def option_exposure(self) -> OptionExposure:
        """The greeks of the contracts held, from the latest chain of their underlying (a contract
        that chain does not quote adds nothing: its greeks are not known)."""
        total = OptionExposure()
        for symbol, held in self.option_positions.items():
            contract = self.contracts[symbol]
            chain = self.chains.get(contract.underlying)
            if chain is None or symbol not in chain:
                continue
            side = Side.BUY if held.qty > 0 else Side.SELL
            total += chain.exposure([OptionLeg(contract, side, abs(int(held.qty)))])
        return total

    def price(self, symbol: str) -> float:
        """The last price of a symbol: an underlying's spot, or a contract's mark per share."""
        if symbol in self.option_marks:
            return self.option_marks[symbol]
        return super().price(symbol)

    # --- valuation ------------------------------------------------------------------------------------

    def valuation(self) -> tuple[float, float]:
        equity, gross = super().valuation()
        for symbol, held in self.option_positions.items():
            value = held.qty * self.contracts[symbol].multiplier * self.option_marks[symbol]
            equity += value
            gross += abs(value)
        return equity, gross

    def buying_power(self) -> float:
        free = self._free(self._cash, self._option_holdings(), self._share_holdings())
        return max(0.0, free) if isinstance(free, float) else 0.0

    def requirement(self) -> float:
        """What the options held could cost at expiry, at worst (see the module's docstring)."""
        needed = self._requirement(self._option_holdings(), self._share_holdings())
        return needed if isinstance(needed, float) else math.inf

    # --- marks and expiry -------------------------------------------------------------------------

    def mark_chain(self, chain: ChainSnapshot) -> None:
        """Mark the chain's underlying at its spot and every contract of it held at the chain (a
        contract the chain cannot price keeps its last mark); it becomes the chain greeks are read
        from."""
        self.chains[chain.underlying] = chain
        self.marks[chain.underlying] = chain.spot
        for symbol in self.option_positions:
            if self.contracts[symbol].underlying == chain.underlying and symbol in chain:
                self._mark_contract(symbol, chain)

    def session_open(
        self, underlying: str, ts: datetime, spot: float, chain: ChainSnapshot | None, bar_index: int = -1
    ) -> list[Settlement]:
        """A session of underlying at ts, its price spot: the underlying is marked, contracts
        expiring by then settle, and the book is marked to the session's chain when there is one.
        The settlements (share fills of exercises and assignments carry bar_index)."""
        self.mark(underlying, spot)
        settled = self.settle_expiries(ts, {underlying: spot}, bar_index)
        if chain is not None:
            self.mark_chain(chain)
        return settled

    def settle_expiries(
        self, ts: datetime, spot: Mapping[str, float], bar_index: int = -1
    ) -> list[Settlement]:
        """Settle every contract held that expires on or before ts's day, at the underlyings' spot
        prices. bar_index is given to the share fills of exercises and assignments."""
        today = ts.date()
        due = [s for s in self.option_positions if self.contracts[s].expiry <= today]
        settled = []
        for symbol in sorted(due, key=lambda s: self.contracts[s].expiry):  # then in the order held
            contract = self.contracts[symbol]
            if contract.underlying not in spot:
                raise InvalidInput(
                    f"{symbol} expires on {contract.expiry}: the price of {contract.underlying} is needed"
                )
            settled.append(self._settle(symbol, contract, float(spot[contract.underlying]), ts, bar_index))
        self.settlements.extend(settled)
        return settled

    # --- orders -----------------------------------------------------------------------------------

    def refusal(self, order: OptionOrder | Order, fill: OptionFill | None = None) -> str | None:
        """Why the book cannot take an order, or None. An option order is checked at its fill's
        prices: a reduce-only order that would open, naked short calls, or an order the buying
        power cannot carry (one that raises buying power, a close, always passes). A share order
        is refused when selling would leave short calls uncovered."""
        holdings, shares = self._option_holdings(), self._share_holdings()
        if isinstance(order, Order):
            if order.side is not Side.SELL or order.qty is None:
                return None
            shares[order.symbol] = shares.get(order.symbol, 0.0) - order.remaining
            needed = self._requirement(holdings, shares)
            if isinstance(needed, str):
                return f"selling {order.remaining:g} shares of {order.symbol} would leave {needed}"
            return None
        if fill is None:
            raise InvalidInput("an option order is checked at the prices of its fill")
        for leg in order.legs:
            change = leg.signed_ratio * fill.qty
            held = holdings.get(leg.symbol, 0)
            if order.reduce_only and (held == 0 or (held > 0) == (change > 0) or abs(change) > abs(held)):
                return f"reduce-only order would open {leg.symbol} (holds {held}, order {change:+d})"
            holdings[leg.symbol] = held + change
            self.contracts.setdefault(leg.symbol, leg.contract)
        before = self._free(self._cash, self._option_holdings(), shares)
        before = -math.inf if isinstance(before, str) else before
        cash = self._cash - fill.net_price * order.multiplier * fill.qty - fill.commission
        after = self._free(cash, holdings, shares)
        if isinstance(after, str):
            return after
        if after < -TOLERANCE and after < before - TOLERANCE:
            return (
                f"buying power {max(before, 0.0):,.2f} cannot carry this order: "
                f"it needs {before - after:,.2f} "
                f"({order.underlying}, {fill.qty} unit(s) at a net {fill.net_price:.4f})"
            )
        return None

    def apply_option_fill(
        self, order: OptionOrder, fill: OptionFill, chain: ChainSnapshot | None = None
    ) -> list[OptionTrade]:
        """Book a fill of order (its legs, at fill's leg prices): contracts, cash, commission, and
        the spreads it opens or closes. New contracts are marked at chain (at their fill price
        without one); the spread opened carries chain's greeks of it. Returns the trades closed."""
        if chain is not None:
            latest = self.chains.get(chain.underlying)
            if latest is None or latest.ts <= chain.ts:
                self.chains[chain.underlying] = chain
        total_contracts = sum(leg.ratio for leg in order.legs) * fill.qty
        opened: list[tuple[OptionLeg, int, float]] = []
        touched: list[_Spread] = []
        for leg, price in zip(order.legs, fill.leg_prices, strict=True):
            self.contracts.setdefault(leg.symbol, leg.contract)
            change = leg.signed_ratio * fill.qty
            held = self.option_position(leg.symbol)
            closing = min(abs(change), abs(held)) if held and (held > 0) != (change > 0) else 0
            if closing:
                share = fill.commission * closing / total_contracts
                reason = order.reason or "closed"
                touched += self._close(leg.symbol, closing, price, share, fill.ts, reason)
            if abs(change) > closing:
                opened.append((leg, change + closing * (1 if change < 0 else -1), price))
            position = self.option_positions.setdefault(leg.symbol, Position(leg.symbol))
            position.apply(change, price)
            self._cash -= change * price * leg.contract.multiplier
            self.traded_notional += abs(change) * price * leg.contract.multiplier
            if position.qty == 0:
                del self.option_positions[leg.symbol]
                self.option_marks.pop(leg.symbol, None)
            elif chain is not None and leg.symbol in chain:
                self._mark_contract(leg.symbol, chain)
            else:
                self.option_marks.setdefault(leg.symbol, price)
        self._cash -= fill.commission
        self.commission_paid += fill.commission
        if opened:
            self._open(order, fill, opened, total_contracts, chain)
        return self._closed_trades(touched)

    # --- internals --------------------------------------------------------------------------------

    def _mark_contract(self, symbol: str, chain: ChainSnapshot) -> None:
        try:
            self.option_marks[symbol] = chain.mark(symbol, by=self.marks_by)
        except InvalidInput:  # neither a two-sided quote nor a volatility: the last mark stands
            self.option_marks.setdefault(symbol, self.option_positions[symbol].avg_price)

    def _settle(
        self, symbol: str, contract: OptionContract, spot: float, ts: datetime, bar_index: int
    ) -> Settlement:
        held = self.option_position(symbol)
        intrinsic = OptionLeg(contract, Side.BUY).intrinsic(spot)
        fill = None
        if intrinsic <= 0:
            price, reason = 0.0, "expired"
        elif self.settlement == "cash":
            price, reason = intrinsic, "cash_settled"
        else:
            price, reason = 0.0, "exercised" if held > 0 else "assigned"
            # A call held long buys the shares at the strike, a put held long sells them; short, the
            # other way round.
            buys = (contract.right is Right.CALL) == (held > 0)
            fill = Fill(
                f"{reason}-{symbol}",
                contract.underlying,
                Side.BUY if buys else Side.SELL,
                float(abs(held) * contract.multiplier),
                float(contract.strike),
                0.0,
                ts,
                bar_index,
            )
        position = self.option_positions.pop(symbol)
        realised_before = position.realized_pnl
        position.apply(-held, price)
        self._cash += held * price * contract.multiplier
        self.option_marks.pop(symbol, None)
        if fill is not None:
            self.apply_fill(fill)
        pnl = (position.realized_pnl - realised_before) * contract.multiplier
        self._closed_trades(self._close(symbol, abs(held), price, 0.0, ts, reason))
        return Settlement(ts, symbol, held, price, pnl, reason, fill)

    def _open(self, order: OptionOrder, fill: OptionFill, opened, total_contracts: int, chain) -> None:
        whole = len(opened) == len(order.legs) and all(
            contracts == leg.signed_ratio * fill.qty for leg, contracts, _ in opened
        )
        units = fill.qty if whole else math.gcd(*(abs(contracts) for _, contracts, _ in opened))
        legs = [_SpreadLeg(leg.symbol, contracts // units, price) for leg, contracts, price in opened]
        exposure = OptionExposure()
        if chain is not None and all(leg.symbol in chain for leg, _, _ in opened):
            exposure = chain.exposure(
                [OptionLeg(leg.contract, Side.BUY if c > 0 else Side.SELL, abs(c)) for leg, c, _ in opened]
            )
        commission = fill.commission * sum(abs(c) for _, c, _ in opened) / total_contracts
        self._spreads.append(
            _Spread(order.id, order.underlying, order.multiplier, units, legs, fill.ts, commission, exposure)
        )

    def _close(
        self, symbol: str, contracts: int, price: float, commission: float, ts: datetime, reason: str
    ) -> list[_Spread]:
        """Match contracts of symbol closed at price to the spreads holding them, oldest first."""
        touched = []
        per_contract = commission / contracts
        for spread in self._spreads:
            for leg in spread.legs:
                if contracts == 0:
                    break
                held = abs(leg.ratio) * spread.units - leg.closed
                if leg.symbol != symbol or held == 0:
                    continue
                closing = min(contracts, held)
                leg.closed += closing
                leg.exit_value += price * closing
                spread.exit_commission += per_contract * closing
                contracts -= closing
                spread.exit_time = ts
                if reason not in spread.reasons:
                    spread.reasons.append(reason)
                if spread not in touched:
                    touched.append(spread)
        return touched

    def _closed_trades(self, spreads: list[_Spread]) -> list[OptionTrade]:
        """The trades of the spreads whose legs are closed by whole units; those units leave them."""
        trades = []
        for spread in spreads:
            units = spread.closed_units()
            if units is None:
                continue
            share = units / spread.units
            legs = tuple(
                OptionTradeLeg(
                    leg.symbol,
                    leg.ratio * units,
                    leg.entry_price,
                    leg.exit_value / leg.closed,
                    (leg.exit_value / leg.closed - leg.entry_price) * leg.ratio * units * spread.multiplier,
                )
                for leg in spread.legs
            )
            entry_commission = spread.entry_commission * share
            commission = entry_commission + spread.exit_commission
            trade = OptionTrade(
                spread.order_id,
                spread.underlying,
                units,
                legs,
                spread.entry_time,
                spread.exit_time,
                sum(leg.ratio * leg.entry_price for leg in spread.legs),
                sum(leg.ratio * leg.exit_value / leg.closed for leg in spread.legs),
                OptionExposure(*(value * share for value in spread.exposure)),
                commission,
                sum(leg.pnl for leg in legs) - commission,
                ", ".join(spread.reasons),
            )
            trades.append(trade)
            spread.units -= units
            spread.entry_commission -= entry_commission
            spread.exposure = OptionExposure(*(value * (1 - share) for value in spread.exposure))
            spread.exit_commission = 0.0
            spread.reasons = []
            for leg in spread.legs:
                leg.closed, leg.exit_value = 0, 0.0
            if spread.units == 0:
                self._spreads.remove(spread)
        self.option_trades.extend(trades)
        return trades

    def _option_holdings(self) -> dict[str, int]:
        return {symbol: int(held.qty) for symbol, held in self.option_positions.items()}

    def _share_holdings(self) -> dict[str, float]:
        return {symbol: held.qty for symbol, held in self.positions.items() if held.qty}

    def _free(self, cash: float, options: Mapping[str, int], shares: Mapping[str, float]) -> float | str:
        """Buying power of a book with this cash and these holdings, or why it cannot hold them."""
        needed = self._requirement(options, shares)
        if isinstance(needed, str):
            return f"the order would leave {needed}"
        net = gross = 0.0
        for symbol, qty in shares.items():
            held = self.positions.get(symbol)
            value = qty * self.marks.get(symbol, held.avg_price if held else 0.0)
            net += value
            gross += abs(value)
        return cash + net - gross - needed

    def _requirement(self, options: Mapping[str, int], shares: Mapping[str, float]) -> float | str:
        """The worst value at expiry of the contracts held, per underlying and expiry, summed (as a
        positive cost); or a description of the naked short calls that make it unbounded."""
        groups: dict[tuple[str, date], list[OptionLeg]] = defaultdict(list)
        for symbol, contracts in options.items():
            if contracts:
                contract = self.contracts[symbol]
                side = Side.BUY if contracts > 0 else Side.SELL
                groups[contract.underlying, contract.expiry].append(OptionLeg(contract, side, abs(contracts)))
        cover = {symbol: max(qty, 0.0) for symbol, qty in shares.items()}
        total = 0.0
        for (underlying, expiry), held in sorted(groups.items()):
            calls = sum(
                leg.signed_ratio * leg.contract.multiplier for leg in held if leg.contract.right is Right.CALL
            )  # in shares
            covering = 0.0
            if calls < 0:
                covering = min(-calls, cover.get(underlying, 0.0))
                cover[underlying] = cover.get(underlying, 0.0) - covering
                if covering < -calls - TOLERANCE:
                    naked = (-calls - covering) / held[0].contract.multiplier
                    return (
                        f"{naked:g} short call contract(s) of {underlying} expiring {expiry} uncovered "
                        "(naked calls: neither long calls of that expiry nor shares cover them)"
                    )
            spots = {0.0, *(float(leg.contract.strike) for leg in held)}
            worst = min(
                covering * spot + sum(leg.intrinsic(spot) * leg.contract.multiplier for leg in held)
                for spot in spots
            )
            total += max(-worst, 0.0)
        return total
