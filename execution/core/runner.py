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
        self._series = {s: _Series.of(frame) for s, frame in history.items()}
        self.steps: list[datetime] = []
        self._session_day = None

    def on_bars(self, bars: Mapping[str, PriceBar], *, session_end: bool = True) -> StepReport:
        """One step: the bars of every symbol that has one at this time (their index is ignored:
        the runner counts them)."""
        ts = next(iter(bars.values())).ts
        report = StepReport(ts)
        indexed = {}
        for symbol, bar in bars.items():
            series = self._series.get(symbol) or self._series.setdefault(symbol, _Series.of(None))
            indexed[symbol] = bar._replace(index=series.append(symbol, bar))
        new_session = self._new_session(ts)
        for bar in indexed.values():
            if self.on_bar_open is not None:
                self.on_bar_open(bar)
        strategy = self.strategy
        strategy.bind_arrays({s: series.arrays(s) for s, series in self._series.items()})
        for symbol, bar in indexed.items():
            strategy.bar_index[symbol] = bar.index
        for symbol, series in self._series.items():
            strategy.bar_index.setdefault(symbol, series.size - 1)
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


class _Series:
    """A symbol's bars so far, in arrays that grow by doubling: a bar is appended in amortised
    constant time, and a strategy reads read-only views of the filled part, not copies."""

    def __init__(self, values: np.ndarray, times: np.ndarray, size: int, last: datetime | None) -> None:
        self.values, self.times, self.size, self.last = values, times, size, last

    @classmethod
    def of(cls, frame: pd.DataFrame | None) -> "_Series":
        size = 0 if frame is None else len(frame)
        values = np.empty((len(BAR_COLUMNS), max(64, 2 * size)))
        times = np.empty(values.shape[1], dtype="datetime64[ns]")
        if size:
            values[:, :size] = frame[list(BAR_COLUMNS)].to_numpy(dtype="float64").T
            times[:size] = frame.index.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ns]")
        return cls(values, times, size, frame.index[-1] if size else None)

    def append(self, symbol: str, bar: PriceBar) -> int:
        """Add bar (after the last one); its index."""
        if self.last is not None and bar.ts <= self.last:
            raise ValueError(f"{symbol}: bar at {bar.ts} is not after the last one ({self.last})")
        if self.size == self.times.size:
            self.values = np.concatenate([self.values, np.empty_like(self.values)], axis=1)
            self.times = np.concatenate([self.times, np.empty_like(self.times)])
        self.values[:, self.size] = [getattr(bar, c) for c in BAR_COLUMNS]
        self.times[self.size] = pd.Timestamp(bar.ts).tz_convert("UTC").tz_localize(None).to_datetime64()
        self.size, self.last = self.size + 1, bar.ts
        return self.size - 1

    def arrays(self, symbol: str) -> BarArrays:
        columns = self.values[:, : self.size]  # a view: the buffer's later columns stay writable here
        columns.flags.writeable = False
        index = pd.DatetimeIndex(self.times[: self.size]).tz_localize("UTC")
        return BarArrays(symbol, index, *columns)
