"""Walk-forward: windows, the choice in each, the stitched out-of-sample run, and its figures."""

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from backtests.core.engine import BacktestEngine
from backtests.core.results import BacktestConfig
from backtests.core.walkforward import (
    Objective,
    WalkForwardConfig,
    WalkForwardEngine,
    WindowType,
    trial_from_json,
    trial_json,
    walk_forward_json,
    walk_forward_windows,
)
from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput
from marketdata.core.providers.synthetic import SyntheticProvider
from risk.core.manager import APPROVED, RiskManager
from strategies.core.config import StrategyConfig

GRID = {"fast": [5, 10, 20], "slow": [20, 40]}
MOMENTUM = StrategyConfig(strategy="momentum", universe=["AAA"])
NO_COSTS = BacktestConfig(commission_per_trade=Decimal(0), slippage_bps=Decimal(0), fill_timing="next_open")


@pytest.fixture(scope="module")
def bars():
    """Four years of synthetic daily AAA bars (seed 7): 1,006 sessions."""
    frame = SyntheticProvider(seed=7).bars(
        "AAA", datetime(2020, 1, 1, tzinfo=UTC), datetime(2023, 12, 31, tzinfo=UTC), Timeframe.D1
    )
    return frame


def wf(**changes) -> WalkForwardConfig:
    values = {"in_sample_days": 250, "out_of_sample_days": 125, "step_days": 125, "parameter_grid": GRID}
    return WalkForwardConfig(**(values | changes))


def test_rolling_and_anchored_windows_over_sessions():
    ts = pd.date_range("2024-01-01 14:30", periods=10, freq="D", tz="UTC")
    rolling = walk_forward_windows(ts, wf(in_sample_days=4, out_of_sample_days=2, step_days=2))
    anchored = walk_forward_windows(
        ts, wf(in_sample_days=4, out_of_sample_days=2, step_days=2, window_type=WindowType.ANCHORED)
    )

    day = ts.day.tolist()
    assert [
        (w.in_sample_start.day, w.in_sample_end.day, w.out_of_sample_start.day, w.out_of_sample_end.day)
        for w in rolling
    ] == [
        (day[0], day[3], day[4], day[5]),
        (day[2], day[5], day[6], day[7]),
        (day[4], day[7], day[8], day[9]),
    ]
    assert [(w.in_sample_start.day, w.in_sample_end.day) for w in anchored] == [
        (day[0], day[3]),
        (day[0], day[5]),
        (day[0], day[7]),
    ]


def test_sessions_not_bars_count_as_days():
    """Two intraday bars a day: a window of 2 + 1 days spans 6 bars."""
    ts = pd.DatetimeIndex([f"2024-01-0{d} {h}" for d in range(1, 7) for h in ("14:30", "20:55")], tz="UTC")
    windows = walk_forward_windows(ts, wf(in_sample_days=2, out_of_sample_days=1, step_days=1))

    assert len(windows) == 4
    assert (windows[0].in_sample_start, windows[0].in_sample_end) == (ts[0], ts[3])
    assert (windows[0].out_of_sample_start, windows[0].out_of_sample_end) == (ts[4], ts[5])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"in_sample_days": 0}, "in_sample_days must be a whole number of days, at least 1"),
        ({"step_days": 2.5}, "step_days must be a whole number"),
        ({"min_trades_required": -1}, "min_trades_required must be a whole number >= 0"),
        ({"objective": "luck"}, "'luck' is not a valid Objective"),
        ({"window_type": "sliding"}, "'sliding' is not a valid WindowType"),
        ({"parameter_grid": {"fast": []}}, "no values for fast"),
    ],
)
def test_bad_configs_are_refused_with_a_clear_message(changes, message):
    with pytest.raises(InvalidInput, match=message):
        wf(**changes)


def test_too_little_data_for_one_window_is_refused(bars):
    with pytest.raises(
        InvalidInput,
        match=r"1,006 sessions of data: a walk-forward needs at least in_sample_days \+ "
        r"out_of_sample_days = 1,100",
    ):
        WalkForwardEngine().run(
            None, MOMENTUM, bars, wf(in_sample_days=1000, out_of_sample_days=100), NO_COSTS
        )


def test_each_window_trades_its_best_in_sample_set_out_of_sample(bars):
    result = WalkForwardEngine().run(None, MOMENTUM, bars, wf(), NO_COSTS)

    # (1,006 - 250) // 125 = 6 windows; 6 parameter sets per window and over the whole span.
    assert len(result.windows) == 6
    assert len(result.trials) == 7 * 6
    invalid = [t for t in result.trials if t.error]
    assert {(t.parameters["fast"], t.parameters["slow"]) for t in invalid} == {(20, 20)}
    assert "fast (20) must be below slow (20)" in invalid[0].error
    for window in result.windows:
        trials = [t for t in result.trials if t.window == window.window.index and t.metrics is not None]
        best = max(trials, key=lambda t: (t.metrics.sharpe_ratio, -t.combo))
        assert window.best_parameters == best.parameters
        assert window.in_sample_metrics == best.metrics
        assert window.eligible_sets == 5
    # The stitched run starts at the first out-of-sample bar with the whole capital.
    curve = result.aggregated_equity_curve
    assert curve.ts[0] == result.windows[0].window.out_of_sample_start
    assert curve.ts[-1] == result.windows[-1].window.out_of_sample_end
    assert result.aggregated_metrics.final_equity == curve.equity[-1]
    first_oos = result.windows[0].window.out_of_sample_start
    assert all(t.entry_time >= first_oos for t in result.aggregated_trades)
    # Per window, the out-of-sample figures compound into the stitched return.
    growth = np.prod([1 + w.out_of_sample_metrics.total_return_pct / 100 for w in result.windows])
    assert growth == pytest.approx(curve.equity[-1] / 10_000, rel=1e-12)


def test_positions_are_closed_at_each_window_end_unless_carried(bars):
    closing = dataclasses.replace(NO_COSTS, fill_timing="close")
    fresh = WalkForwardEngine().run(None, MOMENTUM, bars, wf(), closing)
    carried = WalkForwardEngine().run(None, MOMENTUM, bars, wf(carry_positions=True), closing)

    def exposure_at_window_ends(result):
        curve = result.aggregated_equity_curve
        ends = [int(curve.ts.searchsorted(w.window.out_of_sample_end)) for w in result.windows]
        return curve.exposure[ends]

    assert (exposure_at_window_ends(fresh) == 0).all()
    assert (exposure_at_window_ends(carried)[:-1] > 0).any()
    assert fresh.aggregated_metrics.final_equity != carried.aggregated_metrics.final_equity


def test_a_window_without_an_eligible_set_is_reported_and_stays_out(bars):
    result = WalkForwardEngine().run(None, MOMENTUM, bars, wf(min_trades_required=9), NO_COSTS)

    empty = [w for w in result.windows if w.best_parameters is None]
    assert empty, "with 9 trades required some window has no eligible set"
    for window in empty:
        assert window.eligible_sets == 0
        assert "no parameter set made at least 9 in-sample trade(s)" in window.note
        assert window.out_of_sample_metrics.total_trades == 0
        assert window.out_of_sample_metrics.exposure_pct == 0


class OneByOne(RiskManager):
    """Approves everything, but says it checks orders one by one: the bar-by-bar loop runs."""

    def check_order(self, order, portfolio):
        return APPROVED


def test_the_bar_by_bar_loop_gives_the_same_walk_forward(bars):
    fast = WalkForwardEngine().run(None, MOMENTUM, bars, wf(), NO_COSTS)
    loop = WalkForwardEngine(BacktestEngine(OneByOne())).run(None, MOMENTUM, bars, wf(), NO_COSTS)

    assert fast.out_of_sample.metadata["path"] == "fast"
    assert loop.out_of_sample.metadata["path"] == "event"
    assert [t.metrics for t in fast.trials] == [t.metrics for t in loop.trials]
    assert list(fast.aggregated_equity_curve.equity) == list(loop.aggregated_equity_curve.equity)
    assert fast.aggregated_trades == loop.aggregated_trades


def test_stability_efficiency_and_overfitting_figures(bars):
    result = WalkForwardEngine().run(None, MOMENTUM, bars, wf(objective=Objective.TOTAL_RETURN), NO_COSTS)

    fast, slow = result.parameter_stability
    assert (fast.parameter, slow.parameter) == ("fast", "slow")
    assert fast.values == [w.best_parameters["fast"] for w in result.windows]
    assert fast.spread == pytest.approx(float(np.std(fast.values)))
    assert fast.distinct == len(set(fast.values))
    for window in result.windows:
        assert (
            window.efficiency
            == pytest.approx(window.out_of_sample_metrics.cagr_pct / window.in_sample_metrics.cagr_pct)
            if window.in_sample_metrics.cagr_pct > 0
            else window.efficiency is None
        )
    assert result.deflated_sharpe.trials == 5  # the valid parameter sets
    assert result.deflated_sharpe.observations == len(result.aggregated_equity_curve)
    assert 0 <= result.overfitting.pbo <= 1
    assert result.overfitting.partitions == 16
    assert result.notes == []


def test_without_a_grid_the_strategy_is_validated_out_of_sample_as_configured(bars):
    config = StrategyConfig(strategy="momentum", universe=["AAA"], parameters={"fast": 10, "slow": 40})
    result = WalkForwardEngine().run(None, config, bars, wf(parameter_grid={}), NO_COSTS)

    assert all(w.best_parameters == {} for w in result.windows)
    assert len(result.trials) == 7
    assert result.deflated_sharpe is None
    assert result.overfitting is None
    assert any("deflated Sharpe ratio" in note for note in result.notes)
    assert any("probability of backtest overfitting" in note for note in result.notes)


def test_trials_round_trip_through_json_and_the_result_has_a_json_form(bars):
    result = WalkForwardEngine().run(None, MOMENTUM, bars, wf(), NO_COSTS)

    for trial in result.trials:
        back = trial_from_json(json.loads(json.dumps(trial_json(trial))))
        assert (back.window, back.combo, back.parameters, back.metrics, back.error) == (
            trial.window,
            trial.combo,
            trial.parameters,
            trial.metrics,
            trial.error,
        )
        assert (
            back.returns is None and trial.returns is None
        ) or back.returns.tolist() == trial.returns.tolist()
    document = json.loads(json.dumps(walk_forward_json(result)))
    assert document["trials"] == 42
    assert [w["best_parameters"] for w in document["windows"]] == [w.best_parameters for w in result.windows]
    assert document["aggregated_metrics"]["final_equity"] == result.aggregated_metrics.final_equity
    assert document["overfitting"]["pbo"] == result.overfitting.pbo
    assert document["equity_curve"][-1]["equity"] == result.aggregated_equity_curve.equity[-1]
    assert len(document["trades"]) == len(result.aggregated_trades)
