"""Walk-forward runs through the services and the tasks: validation, the chord of jobs (inline here,
no broker), idempotent jobs, the assembled result equal to the in-process walk-forward, failures."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from backtests.core.results import BacktestConfig
from backtests.core.walkforward import (
    WalkForwardConfig,
    WalkForwardEngine,
    WindowType,
    trial_json,
    walk_forward_json,
)
from backtests.models import WHOLE_SPAN, WalkForwardChunk, WalkForwardRun, WalkForwardTrial
from backtests.selectors import walk_forward_progress
from backtests.tasks import walk_forward_assemble_task, walk_forward_run_execute_task
from backtests.walkforward_services import (
    _trial_from_row,
    objective_parse,
    walk_forward_chunk_execute,
    walk_forward_chunk_key,
    walk_forward_inputs_clear,
    walk_forward_run_assemble,
    walk_forward_run_create,
    walk_forward_run_enqueue,
    walk_forward_run_execute,
    walk_forward_run_resume,
    walk_forward_runs_stalled_resume,
)
from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput, NotFound
from marketdata.models import PriceBar
from marketdata.selectors import stored_bars_get
from strategies.core.config import StrategyConfig

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("artifacts", "fresh_inputs")]

MOMENTUM = StrategyConfig(strategy="momentum", universe=["AAA"])
GRID = {"fast": [5, 10], "slow": [20, 40]}
WF = WalkForwardConfig(in_sample_days=250, out_of_sample_days=63, step_days=63, parameter_grid=GRID)
COSTS = BacktestConfig(
    initial_capital=Decimal("10000"), commission_per_trade=Decimal("1.50"), slippage_bps=Decimal("5")
)


@pytest.fixture
def fresh_inputs():
    """Each test loads its runs' bars itself (the per-process cache is keyed by run id and time)."""
    walk_forward_inputs_clear()
    yield
    walk_forward_inputs_clear()


def create(strategy_config=MOMENTUM, walk_forward_config=WF, backtest_config=COSTS, **kwargs):
    kwargs.setdefault("chunk_size", 2)
    return walk_forward_run_create(
        strategy_config=strategy_config,
        walk_forward_config=walk_forward_config,
        backtest_config=backtest_config,
        **kwargs,
    )


def in_process(strategy_config=MOMENTUM, walk_forward_config=WF, backtest_config=COSTS):
    bars = stored_bars_get(symbols=["AAA"], timeframe=Timeframe.D1, start=None, end=None)
    return WalkForwardEngine().run(None, strategy_config, bars, walk_forward_config, backtest_config)


def document(result) -> dict:
    """The result's JSON document as stored (through JSON), without its random id."""
    data = json.loads(json.dumps(walk_forward_json(result)))
    del data["walk_forward_id"]
    return data


def stored(run: WalkForwardRun) -> dict:
    return {k: v for k, v in run.result.items() if k != "walk_forward_id"}


def planned(run: WalkForwardRun) -> WalkForwardRun:
    """The run as its dispatcher leaves it before the jobs run: running, its jobs counted."""
    with mock.patch("backtests.walkforward_services.chord"):
        walk_forward_run_execute(run=run)
    run.refresh_from_db()
    return run


def test_a_run_through_the_chord_equals_the_walk_forward_in_one_process(
    aaa, artifacts, django_capture_on_commit_callbacks
):
    run = create()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        walk_forward_run_enqueue(run=run)

    expected = in_process()
    run.refresh_from_db()
    assert len(callbacks) == 1
    assert (run.status, run.error) == ("done", "")
    # 502 sessions: (502 - 250) // 63 = 4 windows; 4 sets, 2 a job: (4 + 1 whole span) x 2 jobs.
    assert len(expected.windows) == 4
    assert walk_forward_progress(run=run) == {"done": 10, "total": 10}
    assert sorted(run.chunks.values_list("key", flat=True)) == sorted(
        [f"w{w}:{a}-{b}" for w in range(4) for a, b in ((0, 1), (2, 3))] + ["all:0-1", "all:2-3"]
    )
    assert stored(run) == document(expected)
    trials = [_trial_from_row(row) for row in run.trials.order_by("window", "combo")]
    assert [trial_json(t) for t in trials] == [trial_json(t) for t in expected.trials]
    assert run.trials_count == run.result["trials"] == 20
    assert run.total_return_pct == expected.aggregated_metrics.total_return_pct
    assert run.sharpe_ratio == expected.aggregated_metrics.sharpe_ratio
    assert run.efficiency == expected.efficiency
    assert run.dsr_probability == expected.deflated_sharpe.probability
    assert run.pbo == expected.overfitting.pbo
    assert run.report_path == f"walkforwards/{run.pk}.html"
    assert (artifacts / run.report_path).read_text().startswith("<!DOCTYPE html>")
    assert run.started_at <= run.finished_at
    assert run.duration_seconds == round((run.finished_at - run.started_at).total_seconds(), 3)


def test_jobs_run_in_this_process_give_the_same_result(aaa):
    config = WalkForwardConfig(
        in_sample_days=200,
        out_of_sample_days=100,
        step_days=50,
        window_type=WindowType.ANCHORED,
        parameter_grid={"fast": [5, 10, 20], "slow": [20, 30]},
        objective="total_return",
        min_trades_required=2,
        carry_positions=True,
    )
    run = create(walk_forward_config=config, chunk_size=4)

    walk_forward_run_execute(run=run, fan_out=False)

    run.refresh_from_db()
    expected = in_process(walk_forward_config=config)
    assert run.status == "done"
    assert walk_forward_progress(run=run) == {"done": 12, "total": 12}  # 5 windows + span, 2 jobs each
    assert stored(run) == document(expected)
    assert run.trials.filter(window=WHOLE_SPAN).count() == 6
    assert run.trials.exclude(error="").count() == 6  # fast 20, slow 20 in each window and the span


def test_a_run_keeps_its_configs_as_json_with_exact_money(aaa):
    run = create(
        backtest_config=BacktestConfig(
            initial_capital=Decimal("25000.10"),
            commission_per_trade=Decimal("0.35"),
            start_date=datetime(2023, 1, 1, tzinfo=UTC),
            end_date=datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC),
        ),
        chunk_size=None,
    )

    run.refresh_from_db()
    assert (run.strategy, run.symbols, run.timeframe, run.source, run.status, run.chunk_size) == (
        "momentum",
        ["AAA"],
        "1d",
        "stored",
        "queued",
        200,  # settings.WALK_FORWARD_CHUNK_SIZE
    )
    assert run.walk_forward_config == {
        "in_sample_days": 250,
        "out_of_sample_days": 63,
        "step_days": 63,
        "window_type": "rolling",
        "parameter_grid": {"fast": [5, 10], "slow": [20, 40]},
        "objective": "sharpe_ratio",
        "min_trades_required": 1,
        "carry_positions": False,
    }
    assert run.backtest_config["initial_capital"] == "25000.10"
    assert run.backtest_config["commission_per_trade"] == "0.35"
    assert run.strategy_config["parameters"] == {}
    assert (run.start, run.end) == (
        datetime(2023, 1, 1, tzinfo=UTC),
        datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC),
    )
    assert walk_forward_progress(run=run) == {"done": 0, "total": 0}


def wf(**changes) -> WalkForwardConfig:
    values = {"in_sample_days": 250, "out_of_sample_days": 63, "step_days": 63, "parameter_grid": GRID}
    return WalkForwardConfig(**(values | changes))


@pytest.mark.parametrize(
    ("strategy_config", "walk_forward_config", "error", "message"),
    [
        (
            StrategyConfig(strategy="foo", universe=["AAA"]),
            WF,
            InvalidInput,
            "unknown strategy 'foo'; known: bull_put_spread, buy_and_hold, covered_call, "
            "iron_condor, mean_reversion, ml_classifier, momentum",
        ),
        (
            MOMENTUM,
            wf(parameter_grid={"speed": [1, 2]}),
            InvalidInput,
            "the grid's 'speed' is not a parameter of momentum; its parameters: fast, slow",
        ),
        (
            StrategyConfig(strategy="buy_and_hold", universe=["AAA"]),
            wf(parameter_grid={"fast": [1]}),
            InvalidInput,
            "the grid's 'fast' is not a parameter of buy_and_hold; its parameters: none",
        ),
        (
            MOMENTUM,
            wf(parameter_grid={"fast": [5, 50], "slow": [20, 40]}),
            InvalidInput,
            "the grid's fast=50 makes no valid parameter set: "
            "strategy 'momentum' parameters: fast (50) must be below slow (20)",
        ),
        (
            MOMENTUM,
            wf(parameter_grid={"fast": [5], "slow": [20, "abc"]}),
            InvalidInput,
            "the grid's slow='abc' makes no valid parameter set: strategy 'momentum' parameters: "
            "slow: Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            MOMENTUM,
            wf(parameter_grid={"fast": list(range(1, 101)), "slow": list(range(101, 202))}),
            InvalidInput,
            "10,100 parameter sets on the grid; at most 10,000",
        ),
        (
            StrategyConfig(strategy="momentum", universe=["ZZZ"]),
            WF,
            NotFound,
            "unknown symbol 'ZZZ'",
        ),
        (StrategyConfig(strategy="momentum"), WF, InvalidInput, "no symbols given"),
    ],
)
def test_a_bad_request_is_refused_before_any_run_is_stored(
    strategy_config, walk_forward_config, error, message
):
    with pytest.raises(error) as raised:
        create(strategy_config=strategy_config, walk_forward_config=walk_forward_config)

    assert raised.value.message == message
    assert WalkForwardRun.objects.count() == 0


def test_a_grid_value_invalid_only_with_some_others_is_kept_as_failed_trials(aaa):
    run = create(walk_forward_config=wf(parameter_grid={"fast": [5, 20], "slow": [20, 40]}))

    walk_forward_run_execute(run=run, fan_out=False)

    run.refresh_from_db()
    assert run.status == "done"
    assert set(run.trials.exclude(error="").values_list("combo", "error")) == {
        (2, "strategy 'momentum' parameters: fast (20) must be below slow (20)")
    }
    assert run.trials.exclude(error="").count() == 5  # in each of the 4 windows and the whole span


@pytest.mark.parametrize(
    ("name", "objective"),
    [("sharpe", "sharpe_ratio"), ("total_return", "total_return"), ("calmar_ratio", "calmar_ratio")],
)
def test_objectives_by_short_or_core_name(name, objective):
    assert objective_parse(name).value == objective


def test_an_unknown_objective_is_refused():
    with pytest.raises(InvalidInput, match="unknown objective 'luck'; use one of sharpe, total_return"):
        objective_parse("luck")


def test_a_job_run_twice_stores_its_trials_once_and_leaves_the_progress_alone(aaa):
    run = planned(create())

    first = walk_forward_chunk_execute(run=run, window=1, combos=[2, 3])
    trials = list(run.trials.values_list("window", "combo", "metrics"))
    again = walk_forward_chunk_execute(run=run, window=1, combos=[2, 3])

    assert (first, again) == (True, False)
    assert list(run.trials.values_list("window", "combo", "metrics")) == trials
    assert [(w, c) for w, c, _ in trials] == [(1, 2), (1, 3)]
    assert walk_forward_progress(run=run) == {"done": 1, "total": 10}


def test_a_job_whose_chunk_row_was_lost_overwrites_its_trials_instead_of_adding_them(aaa):
    """A worker that stored a job and died before acknowledging it: the job runs again in full
    when its chunk row is not there (here deleted by hand); the upsert keeps one row per trial."""
    run = planned(create())
    walk_forward_chunk_execute(run=run, window=None, combos=[0, 1])
    ids = list(run.trials.order_by("combo").values_list("id", flat=True))
    WalkForwardChunk.objects.filter(run=run).delete()

    assert walk_forward_chunk_execute(run=run, window=None, combos=[0, 1]) is True

    assert list(run.trials.order_by("combo").values_list("id", "window", "combo")) == [
        (ids[0], WHOLE_SPAN, 0),
        (ids[1], WHOLE_SPAN, 1),
    ]
    assert len(run.trials.get(combo=0).returns) == 502 * 8  # per-bar returns of the whole span, float64
    assert walk_forward_progress(run=run) == {"done": 1, "total": 10}


def test_a_trial_is_unique_per_run_window_and_set_the_whole_span_included(aaa):
    run = create()
    WalkForwardTrial.objects.create(run=run, window=WHOLE_SPAN, combo=0)
    WalkForwardTrial.objects.create(run=run, window=0, combo=0)

    for window in (WHOLE_SPAN, 0):
        with pytest.raises(IntegrityError), transaction.atomic():
            WalkForwardTrial.objects.create(run=run, window=window, combo=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        WalkForwardTrial.objects.create(run=run, window=-2, combo=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        WalkForwardChunk.objects.bulk_create([WalkForwardChunk(run=run, key="w0:0-1")] * 2)


def test_the_bars_are_read_once_per_run_and_process(aaa):
    run = create()

    with mock.patch(
        "backtests.walkforward_services.backtest_bars_load",
        side_effect=lambda **kw: stored_bars_get(symbols=["AAA"], timeframe="1d", start=None, end=None),
    ) as load:
        walk_forward_run_execute(run=run)

    run.refresh_from_db()
    assert run.status == "done"
    assert load.call_count == 1  # the plan, 10 jobs and the assembly share it


def test_too_little_data_for_one_window_fails_the_run_with_the_reason(aaa):
    run = create(walk_forward_config=wf(in_sample_days=450, out_of_sample_days=100))

    walk_forward_run_execute_task.apply(args=[run.pk]).get()  # recorded, not raised: a retry cannot help

    run.refresh_from_db()
    assert (run.status, run.error, run.chunks_total) == (
        "failed",
        "502 sessions of data: a walk-forward needs at least in_sample_days + out_of_sample_days = 550",
        0,
    )
    assert run.finished_at is not None
    assert not run.trials.exists()


def test_a_job_that_breaks_fails_the_run_naming_the_job_and_nothing_is_assembled(aaa):
    run = create()

    with (
        mock.patch.object(WalkForwardEngine, "evaluate", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        walk_forward_run_execute(run=run)

    run.refresh_from_db()
    assert (run.status, run.error) == ("failed", "job w0:0-1: RuntimeError: boom")
    assert walk_forward_progress(run=run) == {"done": 0, "total": 10}
    walk_forward_assemble_task.apply(args=[run.pk]).get()  # a late callback leaves it failed
    run.refresh_from_db()
    assert (run.status, run.result) == ("failed", None)


def test_assembling_with_a_job_missing_fails_clearly(aaa):
    run = planned(create())
    for window in range(4):
        for combos in ([0, 1], [2, 3]):
            walk_forward_chunk_execute(run=run, window=window, combos=combos)
    walk_forward_chunk_execute(run=run, window=None, combos=[0, 1])

    with pytest.raises(InvalidInput):
        walk_forward_run_assemble(run=run)

    run.refresh_from_db()
    assert (run.status, run.error) == ("failed", "9 of 10 jobs are done: the result cannot be assembled")


def test_a_run_whose_bars_went_away_fails_with_the_reason(aaa):
    run = create()
    PriceBar.objects.all().delete()

    with pytest.raises(InvalidInput):
        walk_forward_run_execute(run=run)

    run.refresh_from_db()
    assert (run.status, run.error) == ("failed", "no 1d bars of AAA stored")


def test_the_task_does_nothing_for_a_run_already_done(aaa):
    run = create()
    walk_forward_run_execute(run=run)
    run.refresh_from_db()
    finished = run.finished_at

    with mock.patch("backtests.tasks.walk_forward_run_execute") as execute:
        walk_forward_run_execute_task.apply(args=[run.pk]).get()
    walk_forward_assemble_task.apply(args=[run.pk]).get()

    run.refresh_from_db()
    execute.assert_not_called()
    assert (run.status, run.finished_at) == ("done", finished)


def test_a_run_on_a_csv_file_reads_it_from_its_absolute_path(tmp_path, monkeypatch):
    bars = stored_bars_frame_csv(tmp_path / "xyz.csv")
    monkeypatch.chdir(tmp_path)
    config = StrategyConfig(strategy="momentum", universe=["XYZ"])

    run = create(strategy_config=config, source="csv", csv_path="xyz.csv")
    walk_forward_run_execute(run=run, fan_out=False)

    run.refresh_from_db()
    assert (run.source, run.csv_path, run.status) == ("csv", str(tmp_path / "xyz.csv"), "done")
    expected = WalkForwardEngine().run(None, config, {"XYZ": bars}, WF, COSTS)
    assert stored(run) == document(expected)


def stored_bars_frame_csv(path: Path):
    """Two years of synthetic daily bars written to a CSV file; the bars as the file gives them back."""
    from marketdata.core.providers.csv import CSVProvider
    from marketdata.core.providers.synthetic import SyntheticProvider
    from marketdata.core.quality import check_bars

    frame = SyntheticProvider(seed=7).bars(
        "XYZ", datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, tzinfo=UTC), Timeframe.D1
    )
    frame.to_csv(path, index_label="Date")
    return check_bars(CSVProvider(path).read("XYZ", Timeframe.D1)).bars


def test_a_run_whose_jobs_were_lost_is_resumed_with_the_missing_ones_only(aaa, artifacts):
    """As after a broker lost two jobs' messages with a dead worker: three jobs done, seven never
    coming. Resuming sends the seven (and the assembly); the result is the one-process one."""
    run = planned(create())
    for window, combos in ((0, [0, 1]), (1, [2, 3]), (None, [0, 1])):
        walk_forward_chunk_execute(run=run, window=window, combos=combos)

    with mock.patch("backtests.tasks.walk_forward_chunk_execute", wraps=walk_forward_chunk_execute) as job:
        sent = walk_forward_run_resume(run=run)

    run.refresh_from_db()
    assert sent == 7
    assert sorted(
        walk_forward_chunk_key(c.kwargs["window"], c.kwargs["combos"]) for c in job.call_args_list
    ) == sorted(["w0:2-3", "w1:0-1", "w2:0-1", "w2:2-3", "w3:0-1", "w3:2-3", "all:2-3"])
    assert (run.status, run.error) == ("done", "")
    assert walk_forward_progress(run=run) == {"done": 10, "total": 10}
    assert run.trials.count() == 20
    assert stored(run) == document(in_process())
    assert walk_forward_run_resume(run=run) == 0  # done: nothing to resume


def test_only_runs_quiet_for_the_stall_time_are_resumed(aaa):
    quiet, busy = planned(create()), planned(create())
    walk_forward_chunk_execute(run=busy, window=0, combos=[0, 1])
    long_ago = timezone.now() - timedelta(hours=1)
    WalkForwardRun.objects.filter(pk__in=[quiet.pk, busy.pk]).update(started_at=long_ago)

    with mock.patch("backtests.walkforward_services.walk_forward_run_resume") as resume:
        resumed = walk_forward_runs_stalled_resume(stalled_after=timedelta(minutes=15))

    assert resumed == [quiet.pk]  # busy finished a job a moment ago
    assert [c.kwargs["run"].pk for c in resume.call_args_list] == [quiet.pk]
