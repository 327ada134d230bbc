"""The RiskManager interface every order passes through, in backtests, paper and live alike, and the
PolicyRiskManager that checks orders against a RiskPolicy.

PolicyRiskManager is fed by its caller, the same way in a backtest and live:

    on_step(ts, equity, new_session=...)   once per timestamp, after the marks moved, before its orders
    check_order(order, portfolio)          once per order (of shares, or of options: an OptionOrder)
    on_trade_closed(symbol, pnl, ts)       once per closed round trip (for the protections)

Its clock is the ts of the latest on_step: no wall clock, so a backtest is deterministic.
"""

import math
from abc import ABC, abstractmethod
from bisect import bisect_right, insort
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from marketdata.core.errors import InvalidInput, NotFound
from marketdata.core.options import Right
from risk.core.breaker import CircuitBreaker
from risk.core.policy import RiskPolicy
from risk.core.state import TradingState, TradingStateChanged, shrinks_position, strictest
from strategies.core.options import OptionLeg, OptionOrder, OptionPortfolioView
from strategies.core.types import Order, OrderType, PortfolioView, Side


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True)
class Decision:
    approved: bool
    reasons: list[Reason] = field(default_factory=list)


APPROVED = Decision(approved=True)


class RiskManager(ABC):
    #: True when check_order approves every order: the engine may then use its compiled fast path,
    #: which cannot consult a risk manager bar by bar.
    approves_everything = False

    @abstractmethod
    def check_order(self, order: Order | OptionOrder, portfolio: PortfolioView) -> Decision: ...


class PermissiveRiskManager(RiskManager):
    """Approves every order: the strategy's own risk_check is the only cap."""

    approves_everything = True

    def check_order(self, order: Order | OptionOrder, portfolio: PortfolioView) -> Decision:
        return APPROVED


# --- the policy's risk manager --------------------------------------------------------------------


class RefusalCode(StrEnum):
    """The codes of PolicyRiskManager's reasons, in the order it checks them."""

    NO_STEP = "no_step"
    PRICE_INVALID = "price_invalid"
    OPTION_PRICE_MISSING = "option_price_missing"
    QTY_BELOW_MIN = "qty_below_min"
    QTY_ABOVE_MAX = "qty_above_max"
    QTY_PRECISION = "qty_precision"
    NOTIONAL_ABOVE_MAX = "notional_above_max"
    BUYING_POWER = "buying_power"
    RATE_LIMIT_STRATEGY = "rate_limit_strategy"
    RATE_LIMIT_GLOBAL = "rate_limit_global"
    REDUCE_ONLY_GROWS = "reduce_only_grows"
    TRADING_HALTED = "trading_halted"
    TRADING_REDUCING = "trading_reducing"
    NAKED_CALL = "naked_call"
    PUT_NOT_SECURED = "put_not_secured"
    RISK_PER_TRADE = "risk_per_trade"
    CAPITAL_DEPLOYED = "capital_deployed"
    OPTION_EXPOSURE_MISSING = "option_exposure_missing"
    NET_DELTA = "net_delta"
    NET_VEGA = "net_vega"
    MAX_POSITIONS = "max_positions"
    DAILY_LOSS_LIMIT = "daily_loss_limit"
    MAX_DRAWDOWN = "max_drawdown"
    COOLDOWN = "cooldown"
    STOPLOSS_GUARD = "stoploss_guard"


class _Held(Protocol):
    qty: float


class RiskPortfolio(PortfolioView, Protocol):
    """What PolicyRiskManager reads of a portfolio beyond PortfolioView (execution's Portfolio has it)."""

    positions: Mapping[str, _Held]

    @property
    def gross_exposure(self) -> float: ...

    def buying_power(self) -> float: ...


class OptionRiskPortfolio(RiskPortfolio, OptionPortfolioView, Protocol):
    """A RiskPortfolio that holds options as well (its positions are shares; the options it holds are
    read by option_position): what PolicyRiskManager reads to check an option order."""


class OrderLog:
    """The times of approved orders within the last minute. Each manager keeps one for its strategy;
    one log shared by several managers (their global_orders) counts the orders of them all."""

    window = timedelta(minutes=1)

    def __init__(self) -> None:
        self._times: list[datetime] = []

    def count(self, now: datetime) -> int:
        """Orders recorded in the minute up to now: (now - 1 minute, now]."""
        self._forget(now)
        return len(self._times)

    def record(self, now: datetime) -> None:
        insort(self._times, now)
        self._forget(now)

    def _forget(self, now: datetime) -> None:
        del self._times[: bisect_right(self._times, now - self.window)]


@dataclass(frozen=True, slots=True)
class _Loss:
    step: int
    ts: datetime | None
    pnl: float


@dataclass(slots=True)
class _Intent:
    """What an order would do to the portfolio, worked out once for all the checks."""

    order: Order
    price: float  # the reference price: the limit price, else the mark
    price_ok: bool
    qty: float | None  # its own, or estimated at price; None without either
    held: float  # the signed position before it
    shrinks: bool
    added_exposure: float  # the change of gross exposure at price (0 when it shrinks or is not sized)
    what: str  # "buy 100 AAA", for the messages

    @property
    def sized(self) -> bool:
        """Whether the checks in money can run: a quantity and a price."""
        return self.qty is not None and self.price_ok


@dataclass(slots=True)
class _OptionIntent:
    """What an option order would do, worked out once for all the checks."""

    order: OptionOrder
    price: float | None  # net, per unit per share: the limit price, else the expected price
    shrinks: bool  # every leg closes (part of) the contracts held of it
    naked_calls: int  # contracts of calls sold beyond those bought (all units)
    shares: float  # shares of the underlying held
    naked_puts: int  # contracts of puts sold beyond those bought (all units)
    loss: float | None  # the most it can lose at expiry, in money; None: unbounded, or no price
    what: str  # "trade 2 units of sell 1 SPY240216P00445000 (0 held) / ...", for the messages

    @property
    def covered(self) -> bool:
        """Whether it sells no more calls than it buys, or the shares held cover those it does."""
        return self.naked_calls == 0 or self.shares >= self.order.multiplier * self.naked_calls


class PolicyRiskManager(RiskManager):
    """Checks each order against a RiskPolicy and lists every check it fails (RefusalCode order).

    Orders that only shrink a position skip the exposure, risk, position-count and protection checks
    (closing is always possible, except when HALTED). An order sized by notional or equity fraction
    is estimated at the reference price (the limit price, else the portfolio's mark), in whole units
    when it asks for whole shares, as the broker will size it.

    An option order (OptionOrder, on an OptionRiskPortfolio) meets the same trading states, rate limits,
    breakers and protections; it shrinks when every leg closes contracts held. One that opens is
    measured by its max loss at expiry at its net price (the limit price, else the expected price its
    strategy saw): its risk per trade, the buying power and capital it takes (a defined-risk spread's
    is its max loss), and the book's net delta and vega after it. It may sell more calls than it buys
    only when the shares held cover them (a covered call), and a put sold beyond those bought must be
    secured by cash for its max loss (a cash-secured put). The quantity, notional and position-count
    limits are of share orders.

    State: the stricter of the global and the strategy's states set from outside (the database keeps
    them: set_external_state) and of the manager's own breakers: the daily loss limit (REDUCING until
    the next session, then ACTIVE again by itself) and the drawdown kill switch (HALTED until
    reset(by=...)).
    """

    approves_everything = False

    def __init__(
        self,
        policy: RiskPolicy | None = None,
        *,
        strategy: str = "",
        global_orders: OrderLog | None = None,
    ) -> None:
        self.policy = policy or RiskPolicy.default()
        self.limits = self.policy.resolved()
        self.strategy = strategy
        self.breaker = CircuitBreaker.from_policy(self.limits)
        self.strategy_orders = OrderLog()
        self.global_orders = global_orders if global_orders is not None else OrderLog()
        self.global_state = TradingState.ACTIVE
        self.strategy_state = TradingState.ACTIVE
        self.clock: datetime | None = None  # the ts of the latest on_step
        self.step = -1  # how many timestamps on_step has seen, less one: bars count in steps
        self.equity: float | None = None
        self.peak_equity: float | None = None
        self.session_start_equity: float | None = None
        self.reset_by = ""  # who last reset the kill switch
        self._drawdown_reason: str | None = None
        self._daily_loss_reason: str | None = None
        self._last_loss: dict[str, _Loss] = {}  # per symbol, for the cooldown
        self._losses: deque[_Loss] = deque()  # within the stoploss guard's lookback
        self._guard_until: int | None = None  # the last step whose entries the stoploss guard pauses
        self._guard_reason = ""

    # --- state -----------------------------------------------------------------------------------

    @property
    def breaker_state(self) -> TradingState:
        """The state the manager's own breakers put trading in."""
        if self._drawdown_reason is not None:
            return TradingState.HALTED
        if self._daily_loss_reason is not None:
            return TradingState.REDUCING
        return TradingState.ACTIVE

    @property
    def state(self) -> TradingState:
        """The state in force: the strictest of global, strategy and breakers."""
        return strictest(self.global_state, self.strategy_state, self.breaker_state)

    @property
    def halted_reason(self) -> str | None:
        """Why trading is not ACTIVE (the strictest cause), or None when it is."""
        causes = [
            (TradingState.HALTED, self._drawdown_reason),
            (self.global_state, f"the global trading state is {self.global_state}"),
            (self.strategy_state, f"the strategy's trading state is {self.strategy_state}"),
            (TradingState.REDUCING, self._daily_loss_reason),
        ]
        state = self.state
        if state is TradingState.ACTIVE:
            return None
        return next(reason for cause, reason in causes if cause is state and reason is not None)

    def set_external_state(
        self, global_state: TradingState | str, strategy_state: TradingState | str
    ) -> None:
        """The states kept outside the manager (the database's kill switches and strategy pauses)."""
        self.global_state = TradingState(global_state)
        self.strategy_state = TradingState(strategy_state)

    def restore(self, *, peak_equity: float, session_start_equity: float) -> None:
        """Pick up where a previous process left off (a restart mid-session): the breakers measure from
        these until the next session or a higher peak."""
        self.peak_equity = float(peak_equity)
        self.session_start_equity = float(session_start_equity)

    # --- feeding ---------------------------------------------------------------------------------

    def on_step(self, ts: datetime, equity: float, *, new_session: bool) -> TradingStateChanged | None:
        """A new timestamp, with the equity at its prices. new_session marks the first timestamp of a
        session: its start equity is the latest equity before it (the previous close, so an overnight
        gap counts in the new day's loss), or this one at the very first step. A second call with the
        same ts refreshes the equity without counting a bar. Returns the breakers' change of state,
        if any."""
        if not math.isfinite(equity):
            raise InvalidInput(f"equity must be a finite number, not {equity}")
        if self.clock is not None and ts < self.clock:
            raise InvalidInput(f"time went backwards: {ts} after {self.clock}")
        before = self.breaker_state
        advanced = self.clock is None or ts > self.clock
        if advanced:
            self.step += 1
        previous = self.equity
        self.clock, self.equity = ts, float(equity)
        if self.session_start_equity is None or (new_session and advanced):
            self.session_start_equity = previous if previous is not None else self.equity
            self._daily_loss_reason = None
        self.peak_equity = self.equity if self.peak_equity is None else max(self.peak_equity, self.equity)
        breaker, peak, start = self.breaker, self.peak_equity, self.session_start_equity
        if self._drawdown_reason is None and breaker.drawdown_exceeded(peak, self.equity):
            self._drawdown_reason = (
                f"Equity {_money(self.equity)} is {_pct(_fall_pct(peak, self.equity))} below its peak "
                f"{_money(peak)}, beyond the {_pct(breaker.max_drawdown_pct)} drawdown limit: trading is "
                f"halted until a person resets it."
            )
        if self._daily_loss_reason is None and breaker.check_daily_loss(start, self.equity):
            self._daily_loss_reason = (
                f"The loss since the session's start equity {_money(start)} is "
                f"{_money(start - self.equity)} ({_pct(_fall_pct(start, self.equity))}), beyond the "
                f"{_pct(breaker.daily_loss_limit_pct)} daily loss limit: only orders that shrink a "
                f"position pass until the next session."
            )
        return self._changed(before, "a new session started")

    def on_trade_closed(self, symbol: str, pnl: float, ts: datetime | None = None) -> None:
        """A round trip closed with this P&L. A loss (pnl < 0) starts the symbol's cooldown and counts
        toward the stoploss guard, from the current step (the latest on_step)."""
        if not pnl < 0:
            return
        loss = self._last_loss[symbol] = _Loss(self.step, ts, float(pnl))
        guard = self.limits.stoploss_guard
        if guard is None:
            return
        self._losses.append(loss)
        while self._losses and self._losses[0].step <= self.step - guard.lookback_bars:
            self._losses.popleft()
        if len(self._losses) >= guard.trade_limit:
            self._guard_until = self.step + guard.stop_duration_bars
            self._guard_reason = (
                f"Stoploss guard: {_count(len(self._losses), 'losing round trip')} within the last "
                f"{guard.lookback_bars} bars reached its limit of {guard.trade_limit}, pausing entries for "
                f"{_bars(guard.stop_duration_bars)} after bar {self.step}"
            )

    def reset(self, *, by: str) -> TradingStateChanged | None:
        """Clear the drawdown kill switch (a person's decision, named in `by`); the drawdown is then
        measured from the current equity. None when it was not tripped."""
        if not by.strip():
            raise InvalidInput("a kill-switch reset names the person who made it")
        if self._drawdown_reason is None:
            return None
        before = self.breaker_state
        self._drawdown_reason = None
        self.peak_equity = self.equity
        self.reset_by = by
        return self._changed(before, f"the drawdown kill switch was reset by {by}", by=by)

    def _changed(self, before: TradingState, recovered: str, by: str = "") -> TradingStateChanged | None:
        after = self.breaker_state
        if after is before:
            return None
        reason = self._drawdown_reason or self._daily_loss_reason or recovered
        if after is TradingState.REDUCING and before is TradingState.HALTED:
            reason = f"{recovered}; {self._daily_loss_reason}"
        return TradingStateChanged(self.clock, before, after, reason, by)

    # --- the checks ------------------------------------------------------------------------------

    def check_order(  # type: ignore[override]
        self, order: Order | OptionOrder, portfolio: RiskPortfolio | OptionRiskPortfolio
    ) -> Decision:
        """Every check the order fails, in RefusalCode order; approved (and counted by the rate
        limits) when none fails."""
        reasons: list[Reason] = []
        if self.clock is None:
            reasons.append(
                Reason(RefusalCode.NO_STEP, "The risk manager has seen no step yet: call on_step first.")
            )
        if isinstance(order, OptionOrder):
            shrinks = self._check_option_order(order, portfolio, reasons)
            symbols = (order.underlying, *(leg.symbol for leg in order.legs))
        else:
            shrinks = self._check_share_order(order, portfolio, reasons)
            symbols = (order.symbol,)
        if self._daily_loss_reason is not None and not shrinks:
            reasons.append(Reason(RefusalCode.DAILY_LOSS_LIMIT, self._daily_loss_reason))
        if self._drawdown_reason is not None:
            reasons.append(Reason(RefusalCode.MAX_DRAWDOWN, self._drawdown_reason))
        if not shrinks:
            self._check_protections(symbols, reasons)
        if reasons:
            return Decision(approved=False, reasons=reasons)
        if self.clock is not None:
            self.strategy_orders.record(self.clock)
            self.global_orders.record(self.clock)
        return APPROVED

    def _check_share_order(self, order: Order, portfolio: RiskPortfolio, reasons: list[Reason]) -> bool:
        """The checks of an order of shares up to the breakers; whether it shrinks a position."""
        intent = self._intent(order, portfolio, reasons)
        self._check_size(intent, portfolio, reasons)
        self._check_rates(reasons)
        self._check_reduce_only(intent, reasons)
        self._check_state(intent.shrinks, f"{intent.what} while {_num(intent.held)} are held", reasons)
        if intent.sized and not intent.shrinks:
            self._check_exposure(intent, portfolio, reasons)
        if intent.held == 0:
            self._check_position_count(intent, portfolio, reasons)
        return intent.shrinks

    def _check_option_order(
        self, order: OptionOrder, portfolio: OptionRiskPortfolio, reasons: list[Reason]
    ) -> bool:
        """The checks of an option order up to the breakers; whether it shrinks (closes legs held)."""
        if not hasattr(portfolio, "option_exposure"):
            raise InvalidInput("an option order is checked against a portfolio that holds options")
        intent = self._option_intent(order, portfolio, reasons)
        opens = not intent.shrinks
        if opens and intent.loss is not None and intent.loss > (buying_power := portfolio.buying_power()):
            reasons.append(
                Reason(
                    RefusalCode.BUYING_POWER,
                    f"The order would {intent.what}, taking {_money(intent.loss)} of buying power (its max "
                    f"loss at expiry): more than the buying power {_money(buying_power)}.",
                )
            )
        self._check_rates(reasons)
        if order.reduce_only and opens:
            reasons.append(
                Reason(
                    RefusalCode.REDUCE_ONLY_GROWS,
                    f"A reduce-only order would {intent.what}: it would open or grow a position.",
                )
            )
        self._check_state(intent.shrinks, intent.what, reasons)
        if opens:
            self._check_option_cover(intent, portfolio, reasons)
            if intent.loss is not None:
                self._check_option_loss(intent, portfolio, reasons)
            self._check_greeks(intent, portfolio, reasons)
        return intent.shrinks

    def _option_intent(
        self, order: OptionOrder, portfolio: OptionRiskPortfolio, reasons: list[Reason]
    ) -> _OptionIntent:
        price = order.limit_price if order.order_type is OrderType.LIMIT else order.expected_price
        held = [portfolio.option_position(leg.symbol) for leg in order.legs]
        shrinks = all(
            shrinks_position(leg.side, leg.ratio * order.qty, h)
            for leg, h in zip(order.legs, held, strict=True)
        )
        legs = " / ".join(
            f"{leg.side} {leg.ratio} {leg.symbol} ({h:,} held)"
            for leg, h in zip(order.legs, held, strict=True)
        )
        what = f"trade {_count(order.qty, 'unit')} of {legs}"
        if price is None and not shrinks:
            reasons.append(
                Reason(
                    RefusalCode.OPTION_PRICE_MISSING,
                    f"A market option order that opens needs the net price its strategy expects "
                    f"(expected_price) to measure its risk, and this one has none: it would {what}.",
                )
            )
        naked = {
            right: max(-sum(leg.signed_ratio for leg in order.legs if leg.contract.right is right), 0)
            for right in Right
        }
        intent = _OptionIntent(
            order=order,
            price=price,
            shrinks=shrinks,
            naked_calls=naked[Right.CALL] * order.qty,
            shares=portfolio.position(order.underlying),
            naked_puts=naked[Right.PUT] * order.qty,
            loss=None,
            what=what,
        )
        if price is not None and intent.covered:
            intent.loss = _unit_loss(order, _covered(order.legs, naked[Right.CALL]), price) * order.qty
        return intent

    def _check_option_cover(
        self, intent: _OptionIntent, portfolio: OptionRiskPortfolio, reasons: list[Reason]
    ) -> None:
        order, underlying = intent.order, intent.order.underlying
        if not intent.covered:
            needed = order.multiplier * intent.naked_calls
            reasons.append(
                Reason(
                    RefusalCode.NAKED_CALL,
                    f"The order sells {_count(intent.naked_calls, 'call')} beyond those it buys, a loss "
                    f"without limit unless {_num(needed)} shares of {underlying} cover them, and "
                    f"{_num(intent.shares)} are held: it would {intent.what}.",
                )
            )
        if intent.naked_puts and intent.loss is not None and intent.loss > portfolio.cash:
            reasons.append(
                Reason(
                    RefusalCode.PUT_NOT_SECURED,
                    f"The order sells {_count(intent.naked_puts, 'put')} beyond those it buys (a "
                    f"cash-secured put): the cash must cover its max loss at expiry, {_money(intent.loss)} "
                    f"(for a lone put: the strike x multiplier x quantity less the premium), and it is "
                    f"{_money(portfolio.cash)}.",
                )
            )

    def _check_option_loss(
        self, intent: _OptionIntent, portfolio: OptionRiskPortfolio, reasons: list[Reason]
    ) -> None:
        limits, loss, equity = self.limits, intent.loss, portfolio.equity
        covered = " with the shares held covering the calls it sells" if intent.naked_calls else ""
        allowed = equity * limits.max_risk_per_trade_pct / 100
        if loss > allowed:
            reasons.append(
                Reason(
                    RefusalCode.RISK_PER_TRADE,
                    f"The order risks {_money(loss)} (its max loss at expiry at the net price "
                    f"{_num(intent.price)}{covered}), above {_pct(limits.max_risk_per_trade_pct)} of "
                    f"equity {_money(equity)} ({_money(allowed)}).",
                )
            )
        gross = portfolio.gross_exposure
        allowed = equity * limits.max_capital_deployed_pct / 100
        if gross + loss > allowed:
            reasons.append(
                Reason(
                    RefusalCode.CAPITAL_DEPLOYED,
                    f"The capital deployed after the order would be {_money(gross + loss)} (the gross "
                    f"exposure {_money(gross)} and its max loss {_money(loss)}), above "
                    f"{_pct(limits.max_capital_deployed_pct)} of equity {_money(equity)} "
                    f"({_money(allowed)}).",
                )
            )

    def _check_greeks(
        self, intent: _OptionIntent, portfolio: OptionRiskPortfolio, reasons: list[Reason]
    ) -> None:
        """The book's net delta and vega after the order, each within its limit or moving toward
        zero. Counted: the options held (the portfolio's option_exposure), every share position as
        delta (shares x price: its positions are shares), and the order's exposure x its quantity.
        A portfolio that cannot tell the greeks of options it holds (option_exposure raises NotFound)
        is refused the order, not measured without them."""
        order, limits, equity = intent.order, self.limits, portfolio.equity
        if order.exposure is None:
            reasons.append(
                Reason(
                    RefusalCode.OPTION_EXPOSURE_MISSING,
                    f"An option order that opens needs the greeks its strategy saw (exposure) to check the "
                    f"book's net delta and vega, and this one has none: it would {intent.what}.",
                )
            )
            return
        try:
            held = portfolio.option_exposure()
        except NotFound as unknown:  # options held that no chain prices: their greeks are not guessed
            reasons.append(
                Reason(
                    RefusalCode.OPTION_EXPOSURE_MISSING,
                    f"The book's net delta and vega cannot be checked: {unknown.message}; it would "
                    f"{intent.what}.",
                )
            )
            return
        shares = sum(p.qty * portfolio.price(symbol) for symbol, p in portfolio.positions.items() if p.qty)
        delta = (RefusalCode.NET_DELTA, "net delta", "", held.delta + shares, order.exposure.delta)
        vega = (RefusalCode.NET_VEGA, "net vega", " per volatility point", held.vega, order.exposure.vega)
        limited = ((*delta, limits.max_net_delta_pct), (*vega, limits.max_net_vega_pct))
        for code, name, per, before, unit, pct in limited:
            after = before + unit * order.qty
            allowed = equity * pct / 100
            if abs(after) > allowed and abs(after) > abs(before):
                reasons.append(
                    Reason(
                        code,
                        f"The book's {name} after the order would be {_money(after)}{per} (from "
                        f"{_money(before)}), beyond {_pct(pct)} of equity {_money(equity)} "
                        f"({_money(allowed)}) either way.",
                    )
                )

    def _intent(self, order: Order, portfolio: RiskPortfolio, reasons: list[Reason]) -> _Intent:
        symbol = order.symbol
        price = order.limit_price if order.limit_price is not None else portfolio.price(symbol)
        price_ok = isinstance(price, int | float) and math.isfinite(price) and price > 0
        if not price_ok:
            reasons.append(
                Reason(
                    RefusalCode.PRICE_INVALID,
                    f"The reference price of {symbol} is {price}: an order needs a positive, finite "
                    f"price to be checked.",
                )
            )
        qty = self._quantity(order, price, portfolio) if price_ok else order.qty
        held = portfolio.position(symbol)
        shrinks = qty is not None and shrinks_position(order.side, qty, held)
        added = 0.0
        if qty is not None and price_ok and not shrinks:
            added = (abs(held + order.side.sign * qty) - abs(held)) * price
        return _Intent(order, price, price_ok, qty, held, shrinks, added, _describe(order, qty))

    def _check_size(self, intent: _Intent, portfolio: RiskPortfolio, reasons: list[Reason]) -> None:
        limits, order, qty, what = self.limits, intent.order, intent.qty, intent.what
        if qty is not None:
            if limits.min_qty is not None and qty < limits.min_qty:
                reasons.append(
                    Reason(
                        RefusalCode.QTY_BELOW_MIN,
                        f"The order would {what}: {_num(qty)} is below the minimum quantity "
                        f"{_num(limits.min_qty)}.",
                    )
                )
            if limits.max_qty is not None and qty > limits.max_qty:
                reasons.append(
                    Reason(
                        RefusalCode.QTY_ABOVE_MAX,
                        f"The order would {what}: {_num(qty)} is above the maximum quantity "
                        f"{_num(limits.max_qty)}.",
                    )
                )
        # An estimated quantity is the broker's to round; only a quantity asked for must be exact.
        if limits.qty_decimals is not None and order.qty is not None:
            scaled = order.qty * 10**limits.qty_decimals
            if abs(scaled - round(scaled)) > 1e-9 * max(1.0, abs(scaled)):
                reasons.append(
                    Reason(
                        RefusalCode.QTY_PRECISION,
                        f"The quantity {_num(order.qty)} is not a multiple of "
                        f"{_num(10.0**-limits.qty_decimals)} ({limits.qty_decimals} decimals).",
                    )
                )
        notional = order.notional
        if notional is None and intent.sized:
            notional = qty * intent.price
        if (
            limits.max_order_notional is not None
            and notional is not None
            and notional > limits.max_order_notional
        ):
            reasons.append(
                Reason(
                    RefusalCode.NOTIONAL_ABOVE_MAX,
                    f"The order's notional {_money(notional)} is above the maximum per order, "
                    f"{_money(limits.max_order_notional)}.",
                )
            )
        if intent.sized and not intent.shrinks:
            buying_power = portfolio.buying_power()
            if intent.added_exposure > buying_power:
                reasons.append(
                    Reason(
                        RefusalCode.BUYING_POWER,
                        f"The order would {what}, adding {_money(intent.added_exposure)} of exposure: more "
                        f"than the buying power {_money(buying_power)}.",
                    )
                )

    def _check_rates(self, reasons: list[Reason]) -> None:
        now, limits = self.clock, self.limits
        if now is None:
            return
        rates = (
            (
                RefusalCode.RATE_LIMIT_STRATEGY,
                self.strategy_orders,
                limits.max_orders_per_minute,
                "the strategy",
            ),
            (
                RefusalCode.RATE_LIMIT_GLOBAL,
                self.global_orders,
                limits.max_orders_per_minute_global,
                "all strategies",
            ),
        )
        for code, log, limit, whose in rates:
            if limit is not None and (count := log.count(now)) >= limit:
                reasons.append(
                    Reason(
                        code,
                        f"{_count(count, 'order')} of {whose} in the minute up to {now}: at the limit of "
                        f"{limit} per minute.",
                    )
                )

    def _check_reduce_only(self, intent: _Intent, reasons: list[Reason]) -> None:
        order, held, what = intent.order, intent.held, intent.what
        if not order.reduce_only:
            return
        if intent.qty is not None:
            grows = not intent.shrinks
        else:  # no quantity (no price): only the side can tell, when nothing opposite is held
            grows = held == 0 or (held > 0) == (order.side is Side.BUY)
        if grows:
            reasons.append(
                Reason(
                    RefusalCode.REDUCE_ONLY_GROWS,
                    f"A reduce-only order would {what} while {_num(held)} are held: it would open or "
                    f"grow a position.",
                )
            )

    def _check_state(self, shrinks: bool, doing: str, reasons: list[Reason]) -> None:
        """The external trading states (the manager's own breakers give their own reasons)."""
        external = self.global_state.stricter(self.strategy_state)
        if external.allows(shrinks=shrinks):
            return
        states = f"global {self.global_state}, strategy {self.strategy_state}"
        if external is TradingState.HALTED:
            reasons.append(
                Reason(RefusalCode.TRADING_HALTED, f"Trading is halted ({states}): no order passes.")
            )
        else:
            reasons.append(
                Reason(
                    RefusalCode.TRADING_REDUCING,
                    f"Trading is reducing ({states}): only orders that shrink a position pass, and this "
                    f"one would {doing}.",
                )
            )

    def _check_exposure(self, intent: _Intent, portfolio: RiskPortfolio, reasons: list[Reason]) -> None:
        limits, order, price, held, qty = self.limits, intent.order, intent.price, intent.held, intent.qty
        equity = portfolio.equity
        # What the order opens: all of it, or what is left after a flip closed the position held.
        opened = (
            qty if held == 0 or (held > 0) == (order.side is Side.BUY) else abs(held + order.side.sign * qty)
        )
        if order.stop_loss is not None:
            risk = opened * abs(price - order.stop_loss)
            how = f"{_num(opened)} x |{_num(price)} - {_num(order.stop_loss)}| to its stop-loss"
        else:
            risk = opened * price
            how = f"the whole notional of {_num(opened)} x {_num(price)}, having no stop-loss"
        allowed = equity * limits.max_risk_per_trade_pct / 100
        if risk > allowed:
            reasons.append(
                Reason(
                    RefusalCode.RISK_PER_TRADE,
                    f"The order risks {_money(risk)} ({how}), above {_pct(limits.max_risk_per_trade_pct)} "
                    f"of equity {_money(equity)} ({_money(allowed)}).",
                )
            )
        gross = portfolio.gross_exposure + intent.added_exposure
        allowed = equity * limits.max_capital_deployed_pct / 100
        if gross > allowed:
            reasons.append(
                Reason(
                    RefusalCode.CAPITAL_DEPLOYED,
                    f"The gross exposure after the order would be {_money(gross)}, above "
                    f"{_pct(limits.max_capital_deployed_pct)} of equity {_money(equity)} "
                    f"({_money(allowed)}).",
                )
            )

    def _check_position_count(self, intent: _Intent, portfolio: RiskPortfolio, reasons: list[Reason]) -> None:
        most = self.limits.max_concurrent_positions
        open_positions = sum(1 for position in portfolio.positions.values() if position.qty)
        if open_positions >= most:
            reasons.append(
                Reason(
                    RefusalCode.MAX_POSITIONS,
                    f"{open_positions} positions are open, the most allowed is {most}: the order would open "
                    f"a position in {intent.order.symbol}.",
                )
            )

    def _check_protections(self, symbols: tuple[str, ...], reasons: list[Reason]) -> None:
        """The cooldown of each symbol the order trades (an option order's underlying and its
        contracts) and the stoploss guard."""
        cooldown = self.limits.cooldown_bars
        for symbol in symbols:
            loss = self._last_loss.get(symbol)
            if cooldown and loss is not None and self.step - loss.step <= cooldown:
                when = f" at {loss.ts}" if loss.ts is not None else ""
                reasons.append(
                    Reason(
                        RefusalCode.COOLDOWN,
                        f"{symbol} closed a round trip at a loss of {_money(-loss.pnl)}{when}, "
                        f"{_bars(self.step - loss.step)} ago: no new entry on it within {_bars(cooldown)} "
                        f"of a loss.",
                    )
                )
        if self._guard_until is not None and self.step <= self._guard_until:
            reasons.append(
                Reason(
                    RefusalCode.STOPLOSS_GUARD,
                    f"{self._guard_reason}: {_bars(self._guard_until - self.step)} to go after this one.",
                )
            )

    def _quantity(self, order: Order, price: float, portfolio: RiskPortfolio) -> float:
        """The order's quantity: its own, or estimated at price as the broker will size it."""
        if order.qty is not None:
            return order.qty
        if order.notional is not None:
            qty = order.notional / price
        else:
            qty = order.equity_fraction * portfolio.buying_power() / price
        return float(math.floor(qty + 1e-9)) if order.whole_shares else qty


def _covered(legs: tuple[OptionLeg, ...], calls: int) -> tuple[OptionLeg, ...]:
    """The legs of one unit less ``calls`` sold calls, those the shares cover: the highest strikes
    first, which leaves the most loss to measure."""
    cut: dict[str, int] = {}
    sold = (leg for leg in legs if leg.contract.right is Right.CALL and leg.side is Side.SELL)
    for leg in sorted(sold, key=lambda leg: leg.contract.strike, reverse=True):
        cut[leg.symbol] = min(leg.ratio, calls - sum(cut.values()))
    return tuple(
        replace(leg, ratio=leg.ratio - cut.get(leg.symbol, 0))
        for leg in legs
        if leg.ratio > cut.get(leg.symbol, 0)
    )


def _unit_loss(order: OptionOrder, legs: tuple[OptionLeg, ...], price: float) -> float:
    """The max loss at expiry of one unit of the order, at its net price, with only these legs (none:
    what it paid)."""
    if not legs:
        return max(price, 0.0) * order.multiplier
    if legs == order.legs:
        return order.max_loss(price)
    return OptionOrder(legs, qty=1, id=order.id).max_loss(price)


def _describe(order: Order, qty: float | None) -> str:
    if order.qty is not None:
        return f"{order.side} {_num(order.qty)} {order.symbol}"
    if qty is not None:
        return f"{order.side} about {_num(qty)} {order.symbol}"
    if order.notional is not None:
        return f"{order.side} {_money(order.notional)} of {order.symbol}"
    return f"{order.side} {order.symbol} for {_pct(order.equity_fraction * 100)} of the buying power"


def _fall_pct(reference: float, value: float) -> float:
    return (reference - value) / reference * 100 if reference else math.inf


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _num(value: float) -> str:
    return f"{value:,.10g}"


def _pct(value: float) -> str:
    return f"{value:.4g}%"


def _count(count: int, what: str) -> str:
    return f"{count} {what}" if count == 1 else f"{count} {what}s"


def _bars(count: int) -> str:
    return _count(count, "bar")
