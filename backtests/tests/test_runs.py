"""Backtest runs through the services and the task: validation, execution, results kept, failures."""

from datetime import UTC, datetime
from decimal import Decimal
from unittest import mock

import pytest

from backtests.core.engine import BacktestEngine
from backtests.core.results import BacktestConfig
from backtests.models import BacktestRun
from backtests.services import backtest_run_create, backtest_run_enqueue, backtest_run_execute
from backtests.tasks import backtest_run_execute_task
from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput, NotFound
from marketdata.models import PriceBar
from marketdata.selectors import bars_frame_get, instrument_get
from strategies.core.config import StrategyConfig
from strategies.core.registry import strategy_build

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("artifacts")]

MOMENTUM = StrategyConfig(strategy="momentum", universe=["AAA"], parameters={"fast": 5, "slow": 15})
COSTS = BacktestConfig(
    initial_capital=Decimal("10000"), commission_per_trade=Decimal("1.50"), slippage_bps=Decimal("5")
)


def create(strategy_config=MOMENTUM, backtest_config=COSTS, **kwargs) -> BacktestRun:
    return backtest_run_create(strategy_config=strategy_config, backtest_config=backtest_config, **kwargs)


def test_a_run_keeps_what_the_engine_computes_on_the_same_bars(aaa, artifacts):
    run = create()

    backtest_run_execute(run=run)

    bars = bars_frame_get(instrument=instrument_get(symbol="AAA"), timeframe=Timeframe.D1)
    expected = BacktestEngine().run(strategy_build(MOMENTUM), {"AAA": bars}, COSTS)
    run.refresh_from_db()
    assert run.status == "done"
    assert run.error == ""
    assert run.metrics["total_trades"] == expected.metrics.total_trades == len(run.trades) == 18
    assert run.metrics["final_equity"] == expected.metrics.final_equity
    first = expected.trades[0]
    assert run.trades[0] == {
        "symbol": "AAA",
        "direction": "long",
        "quantity": first.quantity,
        "entry_time": first.entry_time.isoformat(),
        "entry_price": first.entry_price,
        "exit_time": first.exit_time.isoformat(),
        "exit_price": first.exit_price,
        "pnl": first.pnl,
        "commission": 3.0,
        "return_pct": first.return_pct,
        "bars_held": first.bars_held,
    }
    assert len(run.equity_curve) == len(bars) == 502
    assert run.equity_curve[-1] == {
        "ts": "2024-12-31T00:00:00+00:00",
        "equity": expected.metrics.final_equity,
        "cash": float(expected.equity_curve.cash[-1]),
        "exposure": float(expected.equity_curve.exposure[-1]),
    }
    assert run.report_path == f"backtests/run-{run.pk}.html"
    assert (artifacts / run.report_path).read_text().startswith("<!DOCTYPE html>")
    assert run.started_at <= run.finished_at
    assert run.duration_seconds >= 0


def test_a_run_stores_its_configs_as_json_with_exact_money(aaa):
    run = create(
        backtest_config=BacktestConfig(
            initial_capital=Decimal("25000.10"),
            commission_per_trade=Decimal("0.35"),
            slippage_bps=Decimal("2.5"),
            fill_timing="next_open",
            start_date=datetime(2024, 1, 1, tzinfo=UTC),
            end_date=datetime(2024, 6, 30, 23, 59, 59, tzinfo=UTC),
        )
    )

    run.refresh_from_db()
    assert (run.strategy, run.symbols, run.timeframe, run.source, run.status) == (
        "momentum",
        ["AAA"],
        "1d",
        "stored",
        "queued",
    )
    assert (run.start, run.end) == (
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 6, 30, 23, 59, 59, tzinfo=UTC),
    )
    assert run.config == {
        "strategy": {
            "strategy": "momentum",
            "name": "",
            "universe": ["AAA"],
            "timeframe": "1d",
            "parameters": {"fast": 5, "slow": 15},
            "sizing": {
                "mode": "equity_fraction",
                "value": 1.0,
                "whole_shares": True,
                "atr_period": 14,
                "atr_multiple": 2.0,
            },
            "risk": {"allow_short": False, "max_position_pct": None},
        },
        "backtest": {
            "initial_capital": "25000.10",
            "commission_per_trade": "0.35",
            "commission_per_share": "0",
            "commission_minimum": "0",
            "commission_bps": "0",
            "slippage_bps": "2.5",
            "volume_impact_bps": "0",
            "max_participation": None,
            "fill_timing": "next_open",
            "start_date": "2024-01-01T00:00:00+00:00",
            "end_date": "2024-06-30T23:59:59+00:00",
            "trade_start": None,
            "timeframe": "1d",
            "risk_free_rate": 0.0,
            "risk_policy": None,
        },
    }


def test_the_stored_equity_curve_is_downsampled_and_keeps_its_last_point(aaa):
    run = create(strategy_config=StrategyConfig(strategy="buy_and_hold", universe=["AAA"]))

    with mock.patch("backtests.services.MAX_STORED_CURVE_POINTS", 40):
        backtest_run_execute(run=run)

    run.refresh_from_db()
    # At most 40: a point that is a bucket's first, lowest, highest or last at once counts once.
    assert len(run.equity_curve) == 33
    assert run.equity_curve[0]["ts"] == "2023-01-03T00:00:00+00:00"
    assert run.equity_curve[-1]["ts"] == "2024-12-31T00:00:00+00:00"
    assert run.equity_curve[-1]["equity"] == run.metrics["final_equity"]


@pytest.mark.parametrize(
    ("strategy_config", "backtest_config", "error", "message"),
    [
        (
            StrategyConfig(strategy="foo", universe=["AAA"]),
            COSTS,
            InvalidInput,
            "unknown strategy 'foo'; known: bull_put_spread, buy_and_hold, covered_call, "
            "iron_condor, mean_reversion, ml_classifier, momentum",
        ),
        (
            StrategyConfig(strategy="momentum", universe=["AAA"], parameters={"slow": "abc"}),
            COSTS,
            InvalidInput,
            "strategy 'momentum' parameters: slow: Input should be a valid integer, "
            "unable to parse string as an integer",
        ),
        (
            StrategyConfig(strategy="momentum", universe=["AAA", "ZZZ"]),
            COSTS,
            NotFound,
            "unknown symbol 'ZZZ'",
        ),
        (StrategyConfig(strategy="momentum"), COSTS, InvalidInput, "no symbols given"),
        (
            MOMENTUM,
            BacktestConfig(
                start_date=datetime(2030, 1, 1, tzinfo=UTC), end_date=datetime(2030, 12, 31, tzinfo=UTC)
            ),
            InvalidInput,
            "no 1d bars of AAA stored between 2030-01-01 and 2030-12-31",
        ),
        (
            MOMENTUM,
            BacktestConfig(
                start_date=datetime(2024, 2, 1, tzinfo=UTC), end_date=datetime(2024, 1, 1, tzinfo=UTC)
            ),
            InvalidInput,
            "end 2024-01-01 is before start 2024-02-01",
        ),
        (
            MOMENTUM,
            BacktestConfig(initial_capital=Decimal("0")),
            InvalidInput,
            "initial capital must be positive, not 0",
        ),
        (
            MOMENTUM,
            BacktestConfig(slippage_bps=Decimal("-1")),
            InvalidInput,
            "slippage_bps must not be negative, not -1",
        ),
        (
            MOMENTUM,
            BacktestConfig(fill_timing="at_noon"),
            InvalidInput,
            "fill timing 'at_noon' is not one of close, next_open",
        ),
        (
            MOMENTUM,
            BacktestConfig(timeframe=Timeframe.H1),
            InvalidInput,
            "the strategy config's timeframe 1d differs from the backtest's 1h",
        ),
    ],
)
def test_a_bad_request_is_refused_before_any_run_is_stored(
    aaa, strategy_config, backtest_config, error, message
):
    with pytest.raises(error) as raised:
        create(strategy_config=strategy_config, backtest_config=backtest_config)

    assert raised.value.message == message
    assert BacktestRun.objects.count() == 0


def test_a_failed_run_records_its_error_and_raises_it(aaa):
    run = create()
    PriceBar.objects.all().delete()  # the bars went away between the request and the execution

    with pytest.raises(InvalidInput, match="no 1d bars of AAA stored"):
        backtest_run_execute(run=run)

    run.refresh_from_db()
    assert (run.status, run.error, run.metrics, run.trades, run.report_path) == (
        "failed",
        "no 1d bars of AAA stored",
        None,
        [],
        "",
    )
    assert run.finished_at is not None


def test_an_unexpected_failure_is_recorded_with_its_type(aaa):
    run = create()

    with (
        mock.patch.object(BacktestEngine, "run", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        backtest_run_execute(run=run)

    run.refresh_from_db()
    assert (run.status, run.error) == ("failed", "RuntimeError: boom")


def test_a_run_on_a_csv_file_reads_the_file_at_execution(tmp_path):
    path = tmp_path / "xyz.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2024-01-02,100,101,99,100,1000\n"
        "2024-01-03,100,104,99,103,1000\n"
        "2024-01-04,103,106,102,105,1000\n"
    )
    config = StrategyConfig(strategy="buy_and_hold", universe=["XYZ"])
    costs = BacktestConfig(commission_per_trade=Decimal("0"), slippage_bps=Decimal("0"))

    run = create(strategy_config=config, backtest_config=costs, source="csv", csv_path=path)
    backtest_run_execute(run=run)

    run.refresh_from_db()
    assert (run.source, run.csv_path, run.status) == ("csv", str(path), "done")
    assert [p["equity"] for p in run.equity_curve] == [10000.0, 10300.0, 10500.0]


def test_a_csv_run_needs_its_path_and_one_symbol(tmp_path):
    with pytest.raises(InvalidInput, match="a CSV backtest needs the file's path"):
        create(source="csv")
    two = StrategyConfig(strategy="momentum", universe=["A", "B"])
    with pytest.raises(InvalidInput, match="a CSV file holds the bars of one symbol, not 2: A, B"):
        create(strategy_config=two, source="csv", csv_path=tmp_path / "x.csv")


def test_enqueue_dispatches_the_task_once_the_run_is_committed(aaa, django_capture_on_commit_callbacks):
    run = create()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        backtest_run_enqueue(run=run)

    run.refresh_from_db()
    assert len(callbacks) == 1
    assert run.status == "done"


def test_the_task_does_nothing_for_a_run_already_done(aaa):
    run = create()
    backtest_run_execute(run=run)
    run.refresh_from_db()
    finished = run.finished_at

    with mock.patch("backtests.tasks.backtest_run_execute") as execute:
        backtest_run_execute_task.apply(args=[run.pk]).get()

    run.refresh_from_db()
    execute.assert_not_called()
    assert (run.status, run.finished_at) == ("done", finished)


def test_the_task_executes_a_queued_run_and_keeps_a_bad_data_failure_on_the_run(aaa):
    done, failing = create(), create()
    PriceBar.objects.filter(ts__gte=datetime(2024, 1, 1, tzinfo=UTC)).delete()
    failing.config["backtest"]["start_date"] = "2024-01-01T00:00:00+00:00"
    failing.start = datetime(2024, 1, 1, tzinfo=UTC)
    failing.save()

    backtest_run_execute_task.apply(args=[done.pk]).get()
    backtest_run_execute_task.apply(args=[failing.pk]).get()  # recorded, not raised: a retry cannot help

    done.refresh_from_db()
    failing.refresh_from_db()
    assert done.status == "done"
    assert (failing.status, failing.error) == ("failed", "no 1d bars of AAA stored from 2024-01-01")
