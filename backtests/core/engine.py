"""The backtest engine: the seed's loop over bars, with the same broker and risk checks as trading.

    for each timestamp:
        pending orders meet the bar (next-open market orders, limits, stops)
        strategy.on_market_data(bar) for every symbol with a bar at this time
        signals = strategy.generate_signals(state)
        orders = strategy.risk_check(signals, portfolio)
        each order: risk_manager.check_order -> SimulatedBroker (fills now under "close" timing)
        equity, cash and exposure recorded
        strategy.daily_close() when the session ends

A strategy that states its signals as arrays may instead run through the compiled kernel
(backtests.core.fastpath) with the same fills, costs and sizing, when nothing in the run needs the
bar-by-bar loop (one symbol, market orders only, no volume cap or impact, a risk manager that
approves everything).
"""

import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import NamedTuple

import numpy as np
import pandas as pd

from backtests.core.metrics import compute_metrics
from backtests.core.results import BacktestConfig, BacktestResult, EquityCurve, PerformanceMetrics
from execution.core.costs import CommissionModel, SlippageModel
from execution.core.ledger import TradeLedger, Trades
from execution.core.portfolio import Portfolio
from execution.core.simulated import SimulatedBroker
from marketdata.core.bars import BAR_COLUMNS, BarArrays
from marketdata.core.errors import InvalidInput
from risk.core.manager import PermissiveRiskManager, PolicyRiskManager, RiskManager
from risk.core.policy import RiskPolicy
from strategies.core.base import Strategy
from strategies.core.types import OrderStatus, PortfolioState, PriceBar


def costs_of(config: BacktestConfig) -> tuple[CommissionModel, SlippageModel]:
    commission = CommissionModel(
        per_trade=float(config.commission_per_trade),
        per_share=float(config.commission_per_share),
        minimum=float(config.commission_minimum),
        bps=float(config.commission_bps),
    )
    return commission, SlippageModel(
        bps=float(config.slippage_bps), impact_bps=float(config.volume_impact_bps)
    )


def prepare_bars(
    data: pd.DataFrame | Mapping[str, pd.DataFrame] | Mapping[str, BarArrays],
    strategy: Strategy,
    config: BacktestConfig,
) -> dict[str, BarArrays]:
    """The bars of a backtest as arrays per symbol, cut to the config's dates. A BarFrame per symbol
    (one frame alone is the strategy's first symbol) is checked first; BarArrays, as this function
    returns them, are only cut (runs over the same bars prepare them once)."""
    if isinstance(data, pd.DataFrame):
        universe = strategy.config.universe
        data = {universe[0] if universe else "ASSET": data}
    if not data:
        raise InvalidInput("no data to backtest")
    out = {}
    for symbol, given in data.items():
        if isinstance(given, BarArrays):
            bars = given.between(config.start_date, config.end_date)
        else:
            bars = _checked(symbol, given, config)
        if not len(bars):
            raise InvalidInput(f"{symbol}: no bars in the backtest's date range")
        out[symbol] = bars
    return out


def _checked(symbol: str, frame: pd.DataFrame, config: BacktestConfig) -> BarArrays:
    missing = [c for c in BAR_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{symbol}: bars lack column(s) {', '.join(missing)}")
    if not isinstance(frame.index, pd.DatetimeIndex) or str(frame.index.tz) != "UTC":
        raise InvalidInput(f"{symbol}: bars need a UTC DatetimeIndex (marketdata.core.bars.bar_frame)")
    bars = BarArrays.from_frame(symbol, frame.loc[config.start_date : config.end_date])
    if any(np.isnan(getattr(bars, c)).any() for c in BAR_COLUMNS):
        raise InvalidInput(f"{symbol}: bars contain NaN; validate them first (marketdata.core.quality)")
    return bars


class Measurement(NamedTuple):
    metrics: PerformanceMetrics
    equity: np.ndarray  # every bar's, from the first traded one


@dataclass(frozen=True)
class _Bars:
    """The bars of a backtest as the engine runs them: per symbol, their steps, the first traded
    step and the buy-and-hold equity from it (the same for every strategy run over them)."""

    datas: dict[str, BarArrays]
    timeline: pd.DatetimeIndex
    first: int
    benchmark: np.ndarray


@dataclass(frozen=True)
class _Run:
    """What a simulation gives: every step's equity, cash and exposure, the trades, and the metrics
    from the first traded step."""

    bars: _Bars
    equity: np.ndarray
    cash: np.ndarray
    exposure: np.ndarray
    trades: Trades
    metrics: PerformanceMetrics
    path: str

    def curve(self) -> EquityCurve:
        """The equity curve from the first traded step."""
        at = self.bars.first
        return EquityCurve(self.bars.timeline[at:], self.equity[at:], self.cash[at:], self.exposure[at:])


class BacktestEngine:
    def __init__(self, risk_manager: RiskManager | None = None) -> None:
        """risk_manager: one for every run (the caller's, as it is); None: a fresh one per run, from
        the config's risk policy (a PolicyRiskManager), or the permissive one without a policy."""
        self.risk_manager = risk_manager

    def risk_manager_for(self, config: BacktestConfig) -> RiskManager:
        if self.risk_manager is not None:
            return self.risk_manager
        if config.risk_policy is None:
            return PermissiveRiskManager()
        return PolicyRiskManager(RiskPolicy.from_data(config.risk_policy))

    def run(
        self,
        strategy: Strategy,
        data: pd.DataFrame | Mapping[str, pd.DataFrame] | Mapping[str, BarArrays],
        config: BacktestConfig,
        *,
        fast: bool | None = None,
    ) -> BacktestResult:
        """Backtest strategy on data. fast=None uses the compiled kernel when it can; True insists
        (an error says why it cannot); False always runs the bar-by-bar loop."""
        started = datetime.now(UTC)
        run = self._simulate(strategy, self._bars(data, strategy, config), config, fast)
        curve, first = run.curve(), run.bars.first
        closes = {}
        for symbol, bars in run.bars.datas.items():
            start = first if len(bars) == len(run.bars.timeline) else int(bars.ts.searchsorted(curve.ts[0]))
            closes[symbol] = pd.Series(bars.close[start:], index=bars.ts[start:], name="close")
        return BacktestResult(
            strategy_id=strategy.config.name or strategy.name,
            config=config,
            equity_curve=curve,
            trades=run.trades,
            metrics=run.metrics,
            start_time=started,
            end_time=datetime.now(UTC),
            metadata={
                "strategy": strategy.name,
                "parameters": strategy.params.model_dump(),
                "symbols": list(run.bars.datas),
                "bars": len(curve),
                "path": run.path,
                **strategy.describe(),
            },
            prices=closes,
            benchmark_curve=pd.Series(run.bars.benchmark, index=curve.ts),
        )

    def measure(
        self,
        strategies: Sequence[Strategy],
        data: pd.DataFrame | Mapping[str, pd.DataFrame] | Mapping[str, BarArrays],
        config: BacktestConfig,
        *,
        fast: bool | None = None,
    ) -> list[Measurement]:
        """run()'s metrics and equity of each strategy, without building results, over the same
        bars prepared once (parameter searches; the strategies share a universe)."""
        if not strategies:
            return []
        bars = self._bars(data, strategies[0], config)
        measured = []
        for strategy in strategies:
            run = self._simulate(strategy, bars, config, fast)
            measured.append(Measurement(run.metrics, run.equity[bars.first :]))
        return measured

    @staticmethod
    def _bars(data, strategy: Strategy, config: BacktestConfig) -> _Bars:
        datas = prepare_bars(data, strategy, config)
        timeline = bars_timeline(datas)
        first = config.first_traded_step(timeline)
        return _Bars(
            datas, timeline, first, _buy_and_hold(datas, timeline, first, float(config.initial_capital))
        )

    def _simulate(self, strategy: Strategy, bars: _Bars, config: BacktestConfig, fast: bool | None) -> _Run:
        strategy.bind_arrays(bars.datas)
        risk = self.risk_manager_for(config)
        reason = self.fast_path_blocker(strategy, config, risk)
        if fast and reason:
            raise InvalidInput(f"the fast path cannot run this backtest: {reason}")
        use_fast = fast is not False and reason is None
        first = bars.first
        if use_fast:
            from backtests.core.fastpath import run_kernel

            equity, cash, exposure, trades, traded = run_kernel(strategy, config, first)
        else:
            with _cyclic_gc_paused():
                equity, cash, exposure, trades, traded = self._loop(strategy, bars, config, risk)
        metrics = compute_metrics(
            equity=equity[first:],
            exposure=exposure[first:],
            trades=trades,
            traded_notional=traded,
            initial_capital=float(config.initial_capital),
            timeframe=config.timeframe,
            benchmark_close=bars.benchmark,
            risk_free_rate=config.risk_free_rate,
        )
        return _Run(bars, equity, cash, exposure, trades, metrics, "fast" if use_fast else "event")

    def fast_path_blocker(
        self, strategy: Strategy, config: BacktestConfig, risk: RiskManager | None = None
    ) -> str | None:
        """Why the compiled kernel cannot run this backtest, or None when it can."""
        risk = risk or self.risk_manager_for(config)
        if len(strategy.datas) != 1:
            return "more than one symbol"
        if strategy.signal_arrays() is None:
            return f"strategy {strategy.name!r} has no signal arrays"
        if config.max_participation is not None or config.volume_impact_bps:
            return "volume caps and impact need the bar-by-bar loop"
        if not risk.approves_everything:
            return "the risk manager checks orders one by one"
        if strategy.config.sizing.mode == "atr_risk" or strategy.config.risk.max_position_pct is not None:
            return "ATR sizing and position caps need the bar-by-bar loop"
        if strategy.custom_risk_check:
            return "the strategy has its own risk_check"
        return None

    # --- the bar-by-bar loop ------------------------------------------------------------------

    def _loop(self, strategy: Strategy, bars: _Bars, config: BacktestConfig, risk: RiskManager):
        datas, timeline, first = bars.datas, bars.timeline, bars.first
        portfolio = Portfolio(float(config.initial_capital))
        commission, slippage = costs_of(config)
        broker = SimulatedBroker(
            portfolio,
            commission=commission,
            slippage=slippage,
            fill_timing=config.fill_timing,
            max_participation=config.max_participation,
        )
        ledger = TradeLedger()
        check = risk.check_order
        # A stateful manager (a policy's) steps at every timestamp and hears of every closed trade.
        on_step = getattr(risk, "on_step", None)
        on_trade_closed = getattr(risk, "on_trade_closed", None)
        new_session = True
        n = len(timeline)
        steps = _bars_by_step(timeline, datas)
        if config.timeframe.is_intraday:
            days = timeline.normalize()
            session_ends = [*(days[1:] != days[:-1]).tolist(), True]
        else:
            session_ends = [True] * n
        # The portfolio after each step with fills: (step, cash, quantity per symbol). Equity, cash
        # and exposure of every step follow from these and the closes, after the loop.
        changes: list[tuple[int, float, dict[str, float]]] = []
        positions = portfolio.positions
        working, marks, bar_index = broker.working, portfolio.marks, strategy.bar_index
        generate_signals = strategy.generate_signals
        # Bars are built only for whoever reads them: a strategy's own on_market_data, the broker.
        wants_bars = strategy.reads_bars
        times = timeline.to_pydatetime() if wants_bars else _StepTimes(timeline)
        state = PortfolioState(portfolio, times)
        wants_close = strategy.closes_sessions
        close_timing = config.fill_timing == "close"
        filled = False

        def record(fills) -> None:
            nonlocal filled
            for fill in fills:
                filled = True
                closed = len(ledger.trades) if on_trade_closed is not None else 0
                ledger.record(fill)
                strategy.on_fill(fill)
                if on_trade_closed is not None:
                    for trade in ledger.trades[closed:]:
                        on_trade_closed(trade.symbol, trade.pnl, fill.ts)

        for step, (entries, session_end) in enumerate(zip(steps, session_ends, strict=True)):
            for symbol, i, row in entries:
                if working.get(symbol):
                    marks[symbol] = row[0]
                    record(broker.on_bar_open(PriceBar(symbol, times[step], *row, i)))
                marks[symbol] = row[3]
                bar_index[symbol] = i
                if wants_bars:
                    strategy.on_market_data(PriceBar(symbol, times[step], *row, i))
            state.bar_index = step
            if on_step is not None:
                on_step(times[step], portfolio.equity, new_session=new_session)
            signals = generate_signals(state)
            if signals and step >= first:
                ts = times[step]
                bars = {symbol: PriceBar(symbol, ts, *row, i) for symbol, i, row in entries}
                for order in strategy.risk_check(signals, portfolio):
                    decision = check(order, portfolio)
                    if not decision.approved:
                        order.status = OrderStatus.REJECTED
                        broker.rejected.append((order, "; ".join(r.message for r in decision.reasons)))
                        continue
                    record(broker.submit(order, bars[order.symbol]))
            if close_timing and working:
                for symbol, i, row in entries:
                    if working.get(symbol):
                        record(broker.on_bar_close(PriceBar(symbol, times[step], *row, i)))
            if filled:
                changes.append((step, portfolio.cash, {s: held.qty for s, held in positions.items()}))
                filled = False
            new_session = session_end
            if session_end:
                if working:
                    broker.end_of_session(bar_index)
                if wants_close:
                    strategy.daily_close()
        equity, cash, exposure = _curve(timeline, datas, changes, float(config.initial_capital))
        return equity, cash, exposure, Trades.from_records(ledger.trades), portfolio.traded_notional


def bars_timeline(datas: Mapping[str, BarArrays]) -> pd.DatetimeIndex:
    """The steps of a backtest: every time at which some symbol has a bar."""
    timeline = None
    for bars in datas.values():
        timeline = bars.ts if timeline is None else timeline.union(bars.ts)
    return timeline


def _bars_by_step(timeline: pd.DatetimeIndex, datas: dict[str, BarArrays]) -> Iterable[Sequence[tuple]]:
    """For every step of the timeline: the (symbol, index, OHLCV row) of each symbol with a bar then.
    When every symbol has a bar at every step (one symbol always does), the entries are zipped from
    the columns as the loop reaches them; otherwise they are laid out step by step first."""
    feeds = {}
    for symbol, bars in datas.items():
        rows = zip(*(getattr(bars, c).tolist() for c in BAR_COLUMNS), strict=True)
        feeds[symbol] = zip(repeat(symbol, len(bars)), range(len(bars)), rows, strict=True)
    if all(len(bars) == len(timeline) for bars in datas.values()):  # the timeline is their union
        return zip(*feeds.values(), strict=True)
    steps: list[list[tuple]] = [[] for _ in range(len(timeline))]
    for symbol, bars in datas.items():
        for step, entry in zip(timeline.get_indexer(bars.ts).tolist(), feeds[symbol], strict=True):
            steps[step].append(entry)
    return steps


class _StepTimes(Sequence[datetime]):
    """The timeline as datetimes, each built when read: in a long run most steps need none (a
    strategy reading every bar gets them all built up front instead)."""

    EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

    def __init__(self, timeline: pd.DatetimeIndex) -> None:
        self._micros = timeline.as_unit("us").asi8.tolist()

    def __len__(self) -> int:
        return len(self._micros)

    def __getitem__(self, step):  # type: ignore[override]
        return self.EPOCH + timedelta(0, 0, self._micros[step])


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """The loop builds millions of small objects (bar rows, bars, signals, orders) that form no
    cycles; as they pile up, Python's cyclic collector walks all of them again and again (a third of
    a million-bar run). Reference counting frees them all the same; collection resumes after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _curve(
    timeline: pd.DatetimeIndex,
    datas: dict[str, BarArrays],
    changes: list[tuple[int, float, dict[str, float]]],
    initial_capital: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every step's equity, cash and gross exposure from the portfolio after each step with fills,
    with Portfolio.valuation's arithmetic in its order: equity = cash + (0 + each position x its
    latest close), exposure = the sum of |position x close| / equity (0 when equity <= 0)."""
    n = len(timeline)
    at = np.array([step for step, _, _ in changes], dtype=np.int64)
    # For every step: the latest change at or before it (-1 before the first).
    latest = np.searchsorted(at, np.arange(n), side="right") - 1
    before = latest < 0
    cash = np.array([0.0] + [c for _, c, _ in changes])[latest + 1]
    cash[before] = initial_capital
    net, gross = np.zeros(n), np.zeros(n)
    held_symbols = changes[-1][2] if changes else {}
    for symbol in held_symbols:  # in the order the portfolio first held them, as valuation sums
        qty = np.array([0.0] + [q.get(symbol, 0.0) for _, _, q in changes])[latest + 1]
        bars = datas[symbol]
        marks = _on_timeline(pd.Series(bars.close, index=bars.ts), timeline).to_numpy()
        value = qty * np.nan_to_num(marks, nan=0.0)  # no close yet: nothing held either
        net += value
        gross += np.abs(value)
    equity = cash + net
    with np.errstate(divide="ignore", invalid="ignore"):
        exposure = np.where(equity > 0, gross / equity, 0.0)
    return equity, cash, exposure


def _buy_and_hold(
    datas: Mapping[str, BarArrays], timeline: pd.DatetimeIndex, first: int, capital: float
) -> np.ndarray:
    """From step first on: the equity of an equal-weight buy-and-hold of the symbols at their first
    closes (a symbol whose bars start later is bought then), without costs."""
    total = 0
    for bars in datas.values():
        if len(bars) == len(timeline):  # a bar at every step
            values = bars.close[first:]
        else:
            values = _on_timeline(pd.Series(bars.close, index=bars.ts), timeline).bfill().to_numpy()[first:]
        total = total + capital / len(datas) * values / values[0]
    return total


def _on_timeline(series: pd.Series, timeline: pd.DatetimeIndex) -> pd.Series:
    """series at every step of timeline, its last value carried forward (NaN before its first)."""
    return series if series.index.equals(timeline) else series.reindex(timeline).ffill()
