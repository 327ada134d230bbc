"""Walk-forward optimisation (the seed's WalkForwardEngine), with the figures that tell a real edge
from a lucky grid search.

The run's sessions (trading days) are cut into windows: an in-sample span to choose parameters on
and the out-of-sample span after it to trade them in; the next window starts step_days later
(rolling) or keeps the same start (anchored). Every parameter set is backtested in every window's
in-sample span, and once over the whole span the windows cover (the matrix the Probability of
Backtest Overfitting reads); each trial is kept. A window's best eligible set (at least
min_trades_required in-sample trades and an objective) then trades that window's out-of-sample
span. A strategy that learns from history (an ML model) learns from the in-sample span of each of
its trials, and each window's chosen one again from its own: no model sees an out-of-sample
label. The out-of-sample spans run as one backtest on one capital base: each window's strategy is
fresh, sees every bar before its span to warm up, and its positions are closed at the span's last
bar unless carry_positions hands them to the next window's strategy.

The work is split into jobs (a window, or the whole span, times a chunk of parameter sets) that run
in any order and anywhere (in-process, or as Celery tasks); assemble() turns the trials of all the
jobs into the WalkForwardResult.
"""

import dataclasses
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from backtests.core.engine import BacktestEngine, bars_timeline, prepare_bars
from backtests.core.grid import parameter_grid
from backtests.core.metrics import bar_returns, compute_metrics
from backtests.core.overfitting import (
    BacktestOverfitting,
    DeflatedSharpe,
    deflated_sharpe,
    probability_of_backtest_overfitting,
)
from backtests.core.report import (
    MAX_PLOT_POINTS,
    downsample_indices,
    equity_curve_json,
    to_plain,
    trade_json,
)
from backtests.core.results import BacktestConfig, BacktestResult, EquityCurve, PerformanceMetrics, Trades
from marketdata.core.bars import BarArrays
from marketdata.core.errors import ApplicationError, InvalidInput
from strategies.core.base import NO_SIGNAL, SIGNAL_FLAT, Strategy
from strategies.core.config import StrategyConfig
from strategies.core.registry import strategy_build
from strategies.core.types import Fill, Order, PortfolioState, PortfolioView, PriceBar, Signal

StrategyFactory = Callable[[StrategyConfig], Strategy]
PBO_PARTITIONS = 16


class WindowType(StrEnum):
    ROLLING = "rolling"
    ANCHORED = "anchored"


class Objective(StrEnum):
    SHARPE_RATIO = "sharpe_ratio"
    TOTAL_RETURN = "total_return"
    SORTINO_RATIO = "sortino_ratio"
    CALMAR_RATIO = "calmar_ratio"
    PROFIT_FACTOR = "profit_factor"

    def of(self, metrics: PerformanceMetrics) -> float | None:
        """The objective's value in metrics (total return in percent); None when it has none."""
        value = getattr(metrics, "total_return_pct" if self is Objective.TOTAL_RETURN else self.value)
        return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class WalkForwardConfig:
    in_sample_days: int
    out_of_sample_days: int
    step_days: int
    window_type: WindowType = WindowType.ROLLING
    parameter_grid: Mapping[str, Sequence] = field(default_factory=dict)
    objective: Objective = Objective.SHARPE_RATIO
    min_trades_required: int = 1
    carry_positions: bool = False

    def __post_init__(self) -> None:
        for name in ("in_sample_days", "out_of_sample_days", "step_days"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InvalidInput(f"{name} must be a whole number of days, at least 1, not {value!r}")
        trades = self.min_trades_required
        if not isinstance(trades, int) or trades < 0:
            raise InvalidInput(f"min_trades_required must be a whole number >= 0, not {trades!r}")
        try:
            object.__setattr__(self, "window_type", WindowType(self.window_type))
            object.__setattr__(self, "objective", Objective(self.objective))
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        object.__setattr__(self, "parameter_grid", {k: list(v) for k, v in self.parameter_grid.items()})
        self.combinations()  # an axis without values fails here

    def combinations(self) -> list[dict[str, Any]]:
        """The parameter sets to try; without a grid, the strategy's own parameters only."""
        return parameter_grid(self.parameter_grid) if self.parameter_grid else [{}]


@dataclass(frozen=True)
class Window:
    """A window's spans, as the times of their first and last bars."""

    index: int
    in_sample_start: datetime
    in_sample_end: datetime
    out_of_sample_start: datetime
    out_of_sample_end: datetime


@dataclass(frozen=True)
class Trial:
    """One parameter set backtested in one window's in-sample span (window None: the whole span)."""

    window: int | None
    combo: int  # position of the set in the grid's combinations
    parameters: dict[str, Any]
    metrics: PerformanceMetrics | None = None
    error: str | None = None  # why the set could not run (invalid parameters)
    returns: np.ndarray | None = None  # per-bar returns, kept for the whole-span trials only


@dataclass(frozen=True)
class Job:
    window: int | None
    combos: tuple[int, ...]


@dataclass(frozen=True)
class WalkForwardPlan:
    windows: list[Window]
    combos: list[dict[str, Any]]

    @property
    def span(self) -> tuple[datetime, datetime]:
        return self.windows[0].in_sample_start, self.windows[-1].out_of_sample_end

    def jobs(self, chunk_size: int) -> list[Job]:
        """Every window and then the whole span, each cut into chunks of chunk_size sets."""
        if chunk_size < 1:
            raise InvalidInput(f"chunk_size must be at least 1, not {chunk_size}")
        chunks = [
            tuple(range(start, min(start + chunk_size, len(self.combos))))
            for start in range(0, len(self.combos), chunk_size)
        ]
        return [Job(w.index, c) for w in self.windows for c in chunks] + [Job(None, c) for c in chunks]


@dataclass(frozen=True)
class WalkForwardWindowResult:
    window: Window
    best_parameters: dict[str, Any] | None  # None: no set was eligible (see note)
    in_sample_metrics: PerformanceMetrics | None
    out_of_sample_metrics: PerformanceMetrics
    efficiency: float | None  # out-of-sample / in-sample annualised return
    eligible_sets: int
    note: str = ""


@dataclass(frozen=True)
class ParameterStability:
    """How steady a parameter's chosen value is from window to window, and how sharp its optimum."""

    parameter: str
    values: list[Any]  # chosen per window (None where no set was eligible)
    distinct: int
    spread: float | None  # standard deviation of numeric chosen values (None for other kinds)
    # Mean over windows of (best objective - mean objective of the sets one grid step away along
    # this parameter, the others fixed), and that drop as a percentage of |best|.
    neighbour_drop: float | None
    neighbour_drop_pct: float | None


@dataclass
class WalkForwardResult:
    walk_forward_id: uuid.UUID
    strategy_id: str
    config: WalkForwardConfig
    windows: list[WalkForwardWindowResult]
    aggregated_metrics: PerformanceMetrics  # the stitched out-of-sample run
    aggregated_trades: Trades
    aggregated_equity_curve: EquityCurve
    parameter_stability: list[ParameterStability]
    trials: list[Trial]
    efficiency: float | None  # stitched out-of-sample annualised return / mean in-sample one
    deflated_sharpe: DeflatedSharpe | None
    overfitting: BacktestOverfitting | None
    notes: list[str]  # why a figure could not be computed
    out_of_sample: BacktestResult  # the stitched run, for reports


# --- windows -------------------------------------------------------------------------------------


def walk_forward_windows(timeline: pd.DatetimeIndex, config: WalkForwardConfig) -> list[Window]:
    """The windows over timeline's sessions (days). Only windows with a whole out-of-sample span."""
    days = timeline.normalize()
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])  # first bar of each session
    ends = np.r_[starts[1:], len(timeline)] - 1  # last bar of each session
    sessions = len(starts)
    windows = []
    while True:
        k = len(windows)
        first = 0 if config.window_type is WindowType.ANCHORED else k * config.step_days
        split = k * config.step_days + config.in_sample_days
        last = split + config.out_of_sample_days
        if last > sessions:
            break
        windows.append(
            Window(
                k,
                timeline[starts[first]].to_pydatetime(),
                timeline[ends[split - 1]].to_pydatetime(),
                timeline[starts[split]].to_pydatetime(),
                timeline[ends[last - 1]].to_pydatetime(),
            )
        )
    if not windows:
        raise InvalidInput(
            f"{sessions:,} sessions of data: a walk-forward needs at least in_sample_days + "
            f"out_of_sample_days = {config.in_sample_days + config.out_of_sample_days:,}"
        )
    return windows


# --- the engine ----------------------------------------------------------------------------------


class WalkForwardEngine:
    def __init__(self, engine: BacktestEngine | None = None) -> None:
        self.engine = engine or BacktestEngine()

    def run(
        self,
        strategy_factory: StrategyFactory | None,
        base_config: StrategyConfig,
        data: pd.DataFrame | Mapping[str, pd.DataFrame],
        wf_config: WalkForwardConfig,
        backtest_config: BacktestConfig,
    ) -> WalkForwardResult:
        """The whole walk-forward in this process (strategy_factory defaults to the registry), a job
        per window and one for the whole span."""
        factory = strategy_factory or strategy_build
        frames = self.frames(factory, base_config, data, backtest_config)
        plan = self.plan(frames, wf_config)
        trials = [
            trial
            for job in plan.jobs(len(plan.combos))
            for trial in self.evaluate(factory, base_config, frames, plan, job, backtest_config)
        ]
        return self.assemble(factory, base_config, frames, plan, trials, wf_config, backtest_config)

    def frames(
        self,
        factory: StrategyFactory,
        base_config: StrategyConfig,
        data: pd.DataFrame | Mapping[str, pd.DataFrame],
        backtest_config: BacktestConfig,
    ) -> dict[str, BarArrays]:
        """The bars, checked and cut to backtest_config's dates, once for every job."""
        return prepare_bars(data, factory(base_config), backtest_config)

    def plan(self, frames: Mapping[str, BarArrays], wf_config: WalkForwardConfig) -> WalkForwardPlan:
        return WalkForwardPlan(
            walk_forward_windows(bars_timeline(frames), wf_config),
            wf_config.combinations(),
        )

    def evaluate(
        self,
        factory: StrategyFactory,
        base_config: StrategyConfig,
        frames: Mapping[str, BarArrays],
        plan: WalkForwardPlan,
        job: Job,
        backtest_config: BacktestConfig,
    ) -> list[Trial]:
        """The trials of one job. A window's in-sample run sees every earlier bar as warm-up; a
        strategy that learns (a model) learns from the in-sample span first."""
        if job.window is None:
            start, end = plan.span
        else:
            window = plan.windows[job.window]
            start, end = window.in_sample_start, window.in_sample_end
        # The bars up to the span's end, cut once for all the job's sets.
        bars = {symbol: data.between(None, end) for symbol, data in frames.items()}
        config = dataclasses.replace(backtest_config, start_date=None, end_date=None, trade_start=start)
        capital = float(config.initial_capital)
        built: dict[int, Strategy] = {}
        trials = []
        for combo in job.combos:
            try:
                strategy = factory(_with_parameters(base_config, plan.combos[combo]))
                strategy.learn(bars, start, end)
                built[combo] = strategy
            except ApplicationError as exc:
                trials.append(Trial(job.window, combo, plan.combos[combo], error=exc.message))
        measured = self.engine.measure(list(built.values()), bars, config)
        for combo, measurement in zip(built, measured, strict=True):
            # The whole-span trials keep their per-bar returns: the overfitting statistics read them.
            returns = None if job.window is not None else bar_returns(measurement.equity, capital)
            trials.append(Trial(job.window, combo, plan.combos[combo], measurement.metrics, returns=returns))
        trials.sort(key=lambda t: t.combo)
        return trials

    def assemble(
        self,
        factory: StrategyFactory,
        base_config: StrategyConfig,
        frames: Mapping[str, BarArrays],
        plan: WalkForwardPlan,
        trials: Sequence[Trial],
        wf_config: WalkForwardConfig,
        backtest_config: BacktestConfig,
    ) -> WalkForwardResult:
        """Choose each window's set, run the out-of-sample spans as one backtest, and measure."""
        trials = sorted(trials, key=lambda t: (-1 if t.window is None else t.window, t.combo))
        expected = (len(plan.windows) + 1) * len(plan.combos)
        if len(trials) != expected or len({(t.window, t.combo) for t in trials}) != expected:
            raise InvalidInput(
                f"{len(trials)} trials for a plan of {expected}: some jobs are missing or repeated"
            )
        by_window = {w.index: [t for t in trials if t.window == w.index] for w in plan.windows}
        chosen = {w: _best(ts, wf_config) for w, ts in by_window.items()}
        segments = [
            _Segment(
                w.out_of_sample_start,
                w.out_of_sample_end,
                None
                if best is None
                else _learned(factory(_with_parameters(base_config, best.parameters)), frames, w),
            )
            for w, best in zip(plan.windows, chosen.values(), strict=True)
        ]
        stitched = _StitchedStrategy(base_config, segments, wf_config.carry_positions)
        first, last = plan.windows[0].out_of_sample_start, plan.windows[-1].out_of_sample_end
        oos_config = dataclasses.replace(backtest_config, start_date=None, end_date=last, trade_start=first)
        oos = self.engine.run(stitched, frames, oos_config)

        windows = [
            _window_result(w, chosen[w.index], by_window[w.index], oos, wf_config) for w in plan.windows
        ]
        notes: list[str] = []
        span = _span_matrix(trials)
        return WalkForwardResult(
            walk_forward_id=uuid.uuid4(),
            strategy_id=base_config.name or base_config.strategy,
            config=wf_config,
            windows=windows,
            aggregated_metrics=oos.metrics,
            aggregated_trades=oos.trades,
            aggregated_equity_curve=oos.equity_curve,
            parameter_stability=_stability(plan, by_window, chosen, wf_config.objective),
            trials=list(trials),
            efficiency=_efficiency(oos.metrics, [w.in_sample_metrics for w in windows if w.best_parameters]),
            deflated_sharpe=_deflated_sharpe(oos, span, notes),
            overfitting=_overfitting(span, notes),
            notes=notes,
            out_of_sample=oos,
        )


# --- choosing and measuring ----------------------------------------------------------------------


def _with_parameters(base: StrategyConfig, parameters: Mapping[str, Any]) -> StrategyConfig:
    return base.model_copy(update={"parameters": {**base.parameters, **parameters}})


def _learned(strategy: Strategy, frames: Mapping[str, BarArrays], window: Window) -> Strategy:
    """The strategy, having learned from the window's in-sample span (as its trials did)."""
    end = window.in_sample_end
    strategy.learn({s: bars.between(None, end) for s, bars in frames.items()}, window.in_sample_start, end)
    return strategy


def _eligible(trials: Sequence[Trial], wf_config: WalkForwardConfig) -> list[Trial]:
    return [
        t
        for t in trials
        if t.metrics is not None
        and t.metrics.total_trades >= wf_config.min_trades_required
        and wf_config.objective.of(t.metrics) is not None
    ]


def _best(trials: Sequence[Trial], wf_config: WalkForwardConfig) -> Trial | None:
    """The eligible trial with the highest objective; the first in grid order on a tie."""
    eligible = _eligible(trials, wf_config)
    if not eligible:
        return None
    return max(eligible, key=lambda t: (wf_config.objective.of(t.metrics), -t.combo))


def _window_result(
    window: Window, best: Trial | None, trials: Sequence[Trial], oos: BacktestResult, wf: WalkForwardConfig
) -> WalkForwardWindowResult:
    curve = oos.equity_curve
    start = int(curve.ts.searchsorted(window.out_of_sample_start))
    stop = int(curve.ts.searchsorted(window.out_of_sample_end, side="right"))
    before = float(curve.equity[start - 1]) if start else float(oos.config.initial_capital)
    entries = oos.trades.entry_time
    picked = oos.trades.where((entries >= window.out_of_sample_start) & (entries <= window.out_of_sample_end))
    # The window's round trips, both legs (a position still open at the end is not in them).
    traded = float(np.sum(picked.quantity * (picked.entry_price + picked.exit_price)))
    metrics = compute_metrics(
        equity=curve.equity[start:stop],
        exposure=curve.exposure[start:stop],
        trades=picked,
        traded_notional=traded,
        initial_capital=before,
        timeframe=oos.config.timeframe,
        benchmark_close=None if oos.benchmark_curve is None else oos.benchmark_curve.to_numpy()[start:stop],
        risk_free_rate=oos.config.risk_free_rate,
    )
    eligible = len(_eligible(trials, wf))
    note = ""
    if best is None:
        note = (
            f"no parameter set made at least {wf.min_trades_required} in-sample trade(s) with a "
            f"{wf.objective.value}: the window stays out of the market"
        )
    return WalkForwardWindowResult(
        window=window,
        best_parameters=None if best is None else dict(best.parameters),
        in_sample_metrics=None if best is None else best.metrics,
        out_of_sample_metrics=metrics,
        efficiency=None if best is None else _efficiency(metrics, [best.metrics]),
        eligible_sets=eligible,
        note=note,
    )


def _efficiency(oos: PerformanceMetrics, in_sample: Sequence[PerformanceMetrics]) -> float | None:
    """Out-of-sample annualised return / the mean in-sample one; None when that mean is not > 0."""
    rates = [m.cagr_pct for m in in_sample if m.cagr_pct is not None]
    if oos.cagr_pct is None or not rates or not np.mean(rates) > 0:
        return None
    return oos.cagr_pct / float(np.mean(rates))


def _stability(
    plan: WalkForwardPlan,
    by_window: Mapping[int, Sequence[Trial]],
    chosen: Mapping[int, Trial | None],
    objective: Objective,
) -> list[ParameterStability]:
    axes = {
        name: list(dict.fromkeys(c[name] for c in plan.combos))
        for name in (plan.combos[0] if plan.combos else {})
    }
    out = []
    for name, axis in axes.items():
        values = [None if best is None else best.parameters[name] for best in chosen.values()]
        picked = [v for v in values if v is not None]
        numeric = picked and all(isinstance(v, int | float) and not isinstance(v, bool) for v in picked)
        drops, relative = [], []
        for w, best in chosen.items():
            if best is None:
                continue
            score = {t.combo: objective.of(t.metrics) for t in by_window[w] if t.metrics is not None}
            at = axis.index(best.parameters[name])
            around = []
            for step in (-1, 1):
                if 0 <= at + step < len(axis):
                    neighbour = {**best.parameters, name: axis[at + step]}
                    combo = plan.combos.index(neighbour) if neighbour in plan.combos else None
                    if combo is not None and score.get(combo) is not None:
                        around.append(score[combo])
            if around:
                top = objective.of(best.metrics)
                drops.append(top - float(np.mean(around)))
                if top:
                    relative.append(drops[-1] / abs(top) * 100.0)
        out.append(
            ParameterStability(
                parameter=name,
                values=values,
                distinct=len(set(map(repr, picked))),
                spread=float(np.std(picked)) if numeric else None,
                neighbour_drop=float(np.mean(drops)) if drops else None,
                neighbour_drop_pct=float(np.mean(relative)) if relative else None,
            )
        )
    return out


def _span_matrix(trials: Sequence[Trial]) -> np.ndarray:
    """The whole-span trials' per-bar returns, a column per valid parameter set."""
    columns = [t.returns for t in trials if t.window is None and t.returns is not None]
    return np.column_stack(columns) if columns else np.empty((0, 0))


def _deflated_sharpe(oos: BacktestResult, matrix: np.ndarray, notes: list[str]) -> DeflatedSharpe | None:
    """The stitched out-of-sample returns' DSR, deflated by the parameter sets tried (each set's
    whole-span per-bar Sharpe ratio, from the span matrix's columns, is a trial)."""
    returns = bar_returns(oos.equity_curve.equity, float(oos.config.initial_capital))
    with np.errstate(invalid="ignore", divide="ignore"):
        sharpes = matrix.mean(axis=0) / matrix.std(axis=0, ddof=1) if matrix.size else np.empty(0)
    try:
        return deflated_sharpe(returns, sharpes[np.isfinite(sharpes)])
    except InvalidInput as exc:
        notes.append(f"deflated Sharpe ratio: {exc.message}")
        return None


def _overfitting(matrix: np.ndarray, notes: list[str]) -> BacktestOverfitting | None:
    """PBO over the whole-span returns matrix, with as many partitions as its length allows (<= 16)."""
    partitions = min(PBO_PARTITIONS, len(matrix) // 2 // 2 * 2)
    try:
        return probability_of_backtest_overfitting(matrix, partitions=partitions)
    except InvalidInput as exc:
        notes.append(f"probability of backtest overfitting: {exc.message}")
        return None


# --- the stitched out-of-sample strategy ----------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    start: datetime
    end: datetime
    strategy: Strategy | None  # None: no eligible set, out of the market


class _StitchedStrategy(Strategy):
    """Each window's chosen strategy trading in its out-of-sample span: all of them see every bar
    (their warm-up); only the span's own strategy's signals count. Without carry, every symbol is
    closed at a span's last bar; a span without a strategy closes them at its first."""

    name = "walk_forward"

    def __init__(self, base: StrategyConfig, segments: Sequence[_Segment], carry: bool) -> None:
        super().__init__(base.model_copy(update={"parameters": {}}))
        self.segments, self.carry = list(segments), carry
        self._strategies = [s.strategy for s in segments if s.strategy is not None]
        self._current: Strategy | None = None

    def initialize(self, config: StrategyConfig) -> None:
        timeline = bars_timeline(self.datas)
        self._active = [-1] * len(timeline)
        self._spans: list[tuple[int, int]] = []
        self._flat: set[int] = set()
        for k, segment in enumerate(self.segments):
            start = int(timeline.searchsorted(segment.start))
            stop = int(timeline.searchsorted(segment.end, side="right"))
            self._spans.append((start, stop))
            self._active[start:stop] = [k] * (stop - start)
            if segment.strategy is None:
                self._flat.add(start)
            elif not self.carry:
                self._flat.add(stop - 1)
        for strategy in self._strategies:
            strategy.bind_arrays(self.datas)
            strategy.bar_index = self.bar_index  # the engine keeps this one dict up to date

    def generate_signals(self, state: PortfolioState) -> list[Signal]:
        step = state.bar_index
        k = self._active[step]
        if k < 0:
            return []
        self._current = self.segments[k].strategy
        if step in self._flat:
            return [Signal.exit(symbol, "walk-forward window ends") for symbol in self.datas]
        return self._current.generate_signals(state)

    def risk_check(self, signals: list[Signal], portfolio: PortfolioView) -> list[Order]:
        if self._current is not None and self._current.custom_risk_check:
            return self._current.risk_check(signals, portfolio)
        return super().risk_check(signals, portfolio)

    def on_market_data(self, bar: PriceBar) -> None:
        for strategy in self._strategies:
            strategy.on_market_data(bar)

    def on_fill(self, fill: Fill) -> None:
        if self._current is not None:
            self._current.on_fill(fill)

    def daily_close(self) -> None:
        for strategy in self._strategies:
            strategy.daily_close()

    @property
    def reads_bars(self) -> bool:
        return any(s.reads_bars for s in self._strategies)

    @property
    def closes_sessions(self) -> bool:
        return any(s.closes_sessions for s in self._strategies)

    @property
    def custom_risk_check(self) -> bool:
        return any(s.custom_risk_check for s in self._strategies)

    def signal_arrays(self) -> dict[str, np.ndarray] | None:
        if len(self.datas) != 1:
            return None
        symbol = self.symbol
        codes = np.full(len(self.data), NO_SIGNAL, dtype=np.int8)
        for segment, (start, stop) in zip(self.segments, self._spans, strict=True):
            if segment.strategy is None:
                continue
            arrays = segment.strategy.signal_arrays()
            if arrays is None:
                return None
            codes[start:stop] = arrays[symbol][start:stop]
        codes[sorted(self._flat)] = SIGNAL_FLAT
        return {symbol: codes}


# --- JSON forms (task results, stored runs, the API) ----------------------------------------------


def trial_json(trial: Trial) -> dict[str, Any]:
    """A trial as JSON values; trial_from_json gives back an equal trial (floats round-trip exactly)."""
    return {
        "window": trial.window,
        "combo": trial.combo,
        "parameters": to_plain(trial.parameters),
        "metrics": None if trial.metrics is None else to_plain(trial.metrics),
        "error": trial.error,
        "returns": None if trial.returns is None else trial.returns.tolist(),
    }


def trial_from_json(data: Mapping[str, Any]) -> Trial:
    return Trial(
        window=data["window"],
        combo=data["combo"],
        parameters=dict(data["parameters"]),
        metrics=None if data["metrics"] is None else PerformanceMetrics(**data["metrics"]),
        error=data["error"],
        returns=None if data["returns"] is None else np.array(data["returns"], dtype="float64"),
    )


def walk_forward_json(
    result: WalkForwardResult, *, max_curve_points: int = MAX_PLOT_POINTS
) -> dict[str, Any]:
    """The result as JSON values: windows, aggregated figures, stability, DSR, PBO (without its
    per-split arrays), the stitched curve (downsampled to max_curve_points, its extremes kept) and
    every out-of-sample trade. Trials are counted here; they are stored on their own."""
    curve = result.aggregated_equity_curve
    overfitting = result.overfitting
    return {
        "walk_forward_id": str(result.walk_forward_id),
        "strategy_id": result.strategy_id,
        "config": to_plain(result.config),
        "windows": [
            {
                "index": w.window.index,
                "in_sample_start": w.window.in_sample_start.isoformat(),
                "in_sample_end": w.window.in_sample_end.isoformat(),
                "out_of_sample_start": w.window.out_of_sample_start.isoformat(),
                "out_of_sample_end": w.window.out_of_sample_end.isoformat(),
                "best_parameters": to_plain(w.best_parameters),
                "eligible_sets": w.eligible_sets,
                "in_sample_metrics": to_plain(w.in_sample_metrics),
                "out_of_sample_metrics": to_plain(w.out_of_sample_metrics),
                "efficiency": to_plain(w.efficiency),
                "note": w.note,
            }
            for w in result.windows
        ],
        "aggregated_metrics": to_plain(result.aggregated_metrics),
        "efficiency": to_plain(result.efficiency),
        "parameter_stability": to_plain(result.parameter_stability),
        "deflated_sharpe": to_plain(result.deflated_sharpe),
        "overfitting": None
        if overfitting is None
        else {
            "pbo": overfitting.pbo,
            "splits": overfitting.splits,
            "partitions": overfitting.partitions,
            "probability_of_loss": overfitting.probability_of_loss,
        },
        "trials": len(result.trials),
        "notes": list(result.notes),
        "equity_curve": equity_curve_json(curve, downsample_indices(curve.equity, max_curve_points)),
        "trades": [trade_json(t) for t in result.aggregated_trades],
    }
