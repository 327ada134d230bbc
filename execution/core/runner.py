"""The trading loop of one strategy on paper or live: at each new bar, the strategy decides, the risk
manager checks, and approved orders go to the OMS, which sends them to the broker.

It follows the backtest engine's steps, in its order, with the same Strategy, sizing and risk
manager (and, on paper, the same simulated broker):

    the paper broker meets the bar (working orders it reaches fill)
    the strategy sees the bars so far (initialize runs again over them: every value is the one the
    backtest computed at this bar, since nothing reads later bars) and signals
    strategy.risk_check sizes the signals; each order: risk_manager.check_order -> send
    the paper broker closes the bar (the rest of capped orders); at a session's end, DAY orders
    expire and the strategy's daily_close runs

The risk manager steps (daily loss, drawdown) before the strategy decides, at the bar's marks, and
hears of every round trip the fills close (trade_closed, called by whoever applies the fills).

Orders carry a quantity when they leave (a notional or equity-fraction size is resolved at the
expected fill price, as the simulated broker resolves it), so the OMS can fix them before sending.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from execution.core.costs import CommissionModel
from execution.core.simulated import resolved_qty
from marketdata.core.bars import BAR_COLUMNS, BarArrays
from risk.core.manager import Decision, Reason, RiskManager
from strategies.core.base import Strategy
from strategies.core.types import Order, PortfolioState, PortfolioView, PriceBar

Send = Callable[[Order, str], None]  # an approved order and the signal it answers (its identity)
Refused = Callable[[Order, Decision], None]
UNAFFORDABLE = Decision(False, [Reason("not_affordable", "not enough buying power for one unit")])


@dataclass
class StepReport:
    ts: datetime
    signals: int = 0
    sent: list[Order] = field(default_factory=list)
    refused: list[tuple[Order, Decision]] = field(default_factory=list)


class StrategyRunner:
    """Runs strategy bar by bar. history: each symbol's bars before the session (warm-up); quote:
    the price a market order is expected to fill at (for sizing); trade_start: no order before it."""

    def __init__(
        self,
        strategy: Strategy,
        *,
        risk_manager: RiskManager,
        portfolio: PortfolioView,
        history: Mapping[str, pd.DataFrame],
        quote: Callable[[str, Order], float],
        buying_power: Callable[[], float],
        commission: CommissionModel,
        send: Send,
        refused: Refused | None = None,
        trade_start: datetime | None = None,
        on_bar_open: Callable[[PriceBar], None] | None = None,
        on_bar_close: Callable[[PriceBar], None] | None = None,
        on_session_end: Callable[[dict[str, int]], None] | None = None,
        qty_decimals: int = 9,
    ) -> None:
        self.strategy, self.risk_manager, self.portfolio = strategy, risk_manager, portfolio
        self.quote, self.buying_power, self.commission = quote, buying_power, commission
        self.send, self.refused, self.trade_start = send, refused, trade_start
        self.on_bar_open, self.on_bar_close, self.on_session_end = on_bar_open, on_bar_close, on_session_end
        self.qty_decimals = qty_decimals
        self._columns = {
            s: {c: frame[c].to_numpy(dtype="float64").tolist() for c in BAR_COLUMNS}
            for s, frame in history.items()
        }
        self._times = {s: list(frame.index) for s, frame in history.items()}
        self.steps: list[datetime] = []
        self._session_day = None

    def on_bars(self, bars: Mapping[str, PriceBar], *, session_end: bool = True) -> StepReport:
        """One step: the bars of every symbol that has one at this time (their index is ignored:
        the runner counts them)."""
        ts = next(iter(bars.values())).ts
        report = StepReport(ts)
        indexed = {}
        for symbol, bar in bars.items():
            columns, times = (
                self._columns.setdefault(symbol, {c: [] for c in BAR_COLUMNS}),
                self._times.setdefault(symbol, []),
            )
            if times and bar.ts <= times[-1]:
                raise ValueError(f"{symbol}: bar at {bar.ts} is not after the last one ({times[-1]})")
            for c in BAR_COLUMNS:
                columns[c].append(getattr(bar, c))
            times.append(bar.ts)
            indexed[symbol] = bar._replace(index=len(times) - 1)
        new_session = self._new_session(ts)
        for bar in indexed.values():
            if self.on_bar_open is not None:
                self.on_bar_open(bar)
        strategy = self.strategy
        strategy.bind_arrays({s: self._arrays(s) for s in self._times})
        for symbol, bar in indexed.items():
            strategy.bar_index[symbol] = bar.index
        for symbol in self._times:
            strategy.bar_index.setdefault(symbol, len(self._times[symbol]) - 1)
        if strategy.reads_bars:
            for bar in indexed.values():
                strategy.on_market_data(bar)
        self.steps.append(ts)
        step = getattr(self.risk_manager, "on_step", None)
        if step is not None:
            step(ts, self.portfolio.equity, new_session=new_session)
        signals = strategy.generate_signals(PortfolioState(self.portfolio, self.steps, len(self.steps) - 1))
        report.signals = len(signals)
        if signals and (self.trade_start is None or ts >= self.trade_start):
            for order in strategy.risk_check(signals, self.portfolio):
                self._sized(order)
                decision = (
                    self.risk_manager.check_order(order, self.portfolio) if order.qty > 0 else UNAFFORDABLE
                )
                if decision.approved:
                    self.send(order, f"{order.symbol} {order.side} {ts.isoformat()}")
                    report.sent.append(order)
                else:
                    report.refused.append((order, decision))
                    if self.refused is not None:
                        self.refused(order, decision)
        for bar in indexed.values():
            if self.on_bar_close is not None:
                self.on_bar_close(bar)
        if session_end:
            if self.on_session_end is not None:
                self.on_session_end(dict(strategy.bar_index))
            if strategy.closes_sessions:
                strategy.daily_close()
        return report

    def _arrays(self, symbol: str) -> BarArrays:
        columns = self._columns[symbol]
        return BarArrays(
            symbol,
            pd.DatetimeIndex(self._times[symbol]),
            *(np.asarray(columns[c], dtype="float64") for c in BAR_COLUMNS),
        )

    def _sized(self, order: Order) -> None:
        """A notional or equity-fraction order gets the quantity the simulated broker would give it
        at the expected fill price."""
        if order.qty is None:
            price = self.quote(order.symbol, order)
            qty = resolved_qty(order, price, self.buying_power(), self.commission)
            order.qty, order.notional, order.equity_fraction = qty, None, None
        if not order.whole_shares:
            step = 10.0**-self.qty_decimals
            order.qty = float(np.floor(order.qty / step + 1e-9) * step)

    def _new_session(self, ts: datetime) -> bool:
        day = ts.date()
        new = day != self._session_day
        self._session_day = day
        return new
