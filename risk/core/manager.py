"""The RiskManager interface every order passes through, in backtests, paper and live alike, and the
PolicyRiskManager that checks orders against a RiskPolicy.

PolicyRiskManager is fed by its caller, the same way in a backtest and live:

    on_step(ts, equity, new_session=...)   once per timestamp, after the marks moved, before its orders
    check_order(order, portfolio)          once per order
    on_trade_closed(symbol, pnl, ts)       once per closed round trip (for the protections)

Its clock is the ts of the latest on_step: no wall clock, so a backtest is deterministic.
"""

import math
from abc import ABC, abstractmethod
from bisect import bisect_right, insort
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from marketdata.core.errors import InvalidInput
from risk.core.breaker import CircuitBreaker
from risk.core.policy import RiskPolicy
from risk.core.state import TradingState, TradingStateChanged, shrinks_position, strictest
from strategies.core.types import Order, PortfolioView, Side


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
    def check_order(self, order: Order, portfolio: PortfolioView) -> Decision: ...


class PermissiveRiskManager(RiskManager):
    """Approves every order: the strategy's own risk_check is the only cap."""

    approves_everything = True

    def check_order(self, order: Order, portfolio: PortfolioView) -> Decision:
        return APPROVED


# --- the policy's risk manager --------------------------------------------------------------------


class RefusalCode(StrEnum):
    """The codes of PolicyRiskManager's reasons, in the order it checks them."""

    NO_STEP = "no_step"
    PRICE_INVALID = "price_invalid"
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
    RISK_PER_TRADE = "risk_per_trade"
    CAPITAL_DEPLOYED = "capital_deployed"
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


class PolicyRiskManager(RiskManager):
    """Checks each order against a RiskPolicy and lists every check it fails (RefusalCode order).

    Orders that only shrink a position skip the exposure, risk, position-count and protection checks
    (closing is always possible, except when HALTED). An order sized by notional or equity fraction
    is estimated at the reference price (the limit price, else the portfolio's mark), in whole units
    when it asks for whole shares, as the broker will size it.

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

    def check_order(self, order: Order, portfolio: RiskPortfolio) -> Decision:  # type: ignore[override]
        """Every check the order fails, in RefusalCode order; approved (and counted by the rate
        limits) when none fails."""
        reasons: list[Reason] = []
        if self.clock is None:
            reasons.append(
                Reason(RefusalCode.NO_STEP, "The risk manager has seen no step yet: call on_step first.")
            )
        intent = self._intent(order, portfolio, reasons)
        self._check_size(intent, portfolio, reasons)
        self._check_rates(reasons)
        self._check_reduce_only_and_state(intent, reasons)
        if intent.sized and not intent.shrinks:
            self._check_exposure(intent, portfolio, reasons)
        if intent.held == 0:
            self._check_position_count(intent, portfolio, reasons)
        if self._daily_loss_reason is not None and not intent.shrinks:
            reasons.append(Reason(RefusalCode.DAILY_LOSS_LIMIT, self._daily_loss_reason))
        if self._drawdown_reason is not None:
            reasons.append(Reason(RefusalCode.MAX_DRAWDOWN, self._drawdown_reason))
        if not intent.shrinks:
            self._check_protections(intent, reasons)
        if reasons:
            return Decision(approved=False, reasons=reasons)
        if self.clock is not None:
            self.strategy_orders.record(self.clock)
            self.global_orders.record(self.clock)
        return APPROVED

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

    def _check_reduce_only_and_state(self, intent: _Intent, reasons: list[Reason]) -> None:
        order, held, what = intent.order, intent.held, intent.what
        if order.reduce_only:
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
        external = self.global_state.stricter(self.strategy_state)
        if external.allows(shrinks=intent.shrinks):
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
                    f"one would {what} while {_num(held)} are held.",
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

    def _check_protections(self, intent: _Intent, reasons: list[Reason]) -> None:
        symbol, cooldown = intent.order.symbol, self.limits.cooldown_bars
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
