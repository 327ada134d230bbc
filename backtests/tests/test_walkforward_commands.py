"""The walkforward CLI: what it prints and writes, its grid syntax, and its one-line refusals."""

import json
from decimal import Decimal
from io import StringIO
from pathlib import Path

import backtesting
import pytest
from django.core.management import CommandError, call_command

from backtests.core.results import BacktestConfig
from backtests.core.walkforward import WalkForwardConfig, WalkForwardEngine, walk_forward_json
from backtests.management.commands.walkforward import parse_grid
from backtests.models import WalkForwardRun
from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput
from marketdata.core.providers.csv import CSVProvider
from marketdata.core.quality import check_bars
from marketdata.selectors import stored_bars_get
from strategies.core.config import StrategyConfig

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("artifacts")]

GOOG = Path(backtesting.__file__).parent / "test" / "GOOG.csv"  # backtesting.py's reference data
GOOG_WALK_FORWARD = [
    *("--strategy", "momentum", "--csv", str(GOOG), "--in-sample-days", "504", "--out-of-sample-days", "252"),
    *("--window", "anchored", "--grid", "fast=5:20:5", "--grid", "slow=20,40,60", "--min-trades", "3"),
    *("--commission", "0", "--slippage-bps", "0", "--fill-timing", "next_open"),
]
AAA_WALK_FORWARD = [
    *("--strategy", "momentum", "--symbols", "AAA", "--in-sample-days", "250", "--out-of-sample-days", "63"),
    *("--grid", "fast=5,10", "--grid", "slow=20:40:20", "--commission", "1.50", "--slippage-bps", "5"),
]


def run(*args) -> list[str]:
    out = StringIO()
    call_command("walkforward", *args, stdout=out)
    return out.getvalue().splitlines()


def test_a_csv_walk_forward_prints_its_windows_the_stitched_run_and_its_figures():
    lines = run(*GOOG_WALK_FORWARD)

    bars = check_bars(CSVProvider(GOOG).read("GOOG", Timeframe.D1)).bars
    result = WalkForwardEngine().run(
        None,
        StrategyConfig(strategy="momentum", universe=["GOOG"]),
        bars,
        WalkForwardConfig(
            in_sample_days=504,
            out_of_sample_days=252,
            step_days=252,
            window_type="anchored",
            parameter_grid={"fast": [5, 10, 15, 20], "slow": [20, 40, 60]},
            min_trades_required=3,
        ),
        BacktestConfig(commission_per_trade=Decimal(0), slippage_bps=Decimal(0), fill_timing="next_open"),
    )
    assert lines[0] == (
        f"walk-forward of momentum on GOOG 1d from {GOOG} (not stored), 12 parameter set(s), in this process"
    )
    assert lines[1].startswith("6 window(s), 84 backtests of a set, out of sample 2006-08-18..2012-08-17, ")
    assert lines[2:9] == [
        "window  in sample               out of sample           chosen              IS Sharpe  OOS return %"
        "  efficiency",
        "     0  2004-08-19..2006-08-17  2006-08-18..2007-08-20  fast=15 slow=20          1.39         19.99"
        "        0.42",
        "     1  2004-08-19..2007-08-20  2007-08-21..2008-08-19  fast=10 slow=20          1.34         47.19"
        "        1.51",
        "     2  2004-08-19..2008-08-19  2008-08-20..2009-08-19  fast=10 slow=20          1.39         19.62"
        "        0.56",
        "     3  2004-08-19..2009-08-19  2009-08-20..2010-08-19  fast=10 slow=20          1.23          0.40"
        "        0.01",
        "     4  2004-08-19..2010-08-19  2010-08-20..2011-08-18  fast=10 slow=20          1.24         16.07"
        "        0.54",
        "     5  2004-08-19..2011-08-18  2011-08-19..2012-08-17  fast=10 slow=20          1.17         14.89"
        "        0.54",
    ]
    assert [w.best_parameters for w in result.windows] == [{"fast": 15, "slow": 20}] + [
        {"fast": 10, "slow": 20}
    ] * 5
    assert lines[9:11] == ["stitched out-of-sample run:", "metric                       value"]
    assert lines[11] == f"total return %{result.aggregated_metrics.total_return_pct:>20,.2f}"
    assert lines[20] == "final equity             28,284.44"
    assert f"{result.aggregated_metrics.final_equity:,.2f}" == "28,284.44"
    assert result.deflated_sharpe.probability < 0.95
    assert lines[22:] == [
        "walk-forward efficiency     0.56: out of sample it made 56% of its in-sample annual return",
        "deflated Sharpe ratio       0.949: fails (needs 0.95): the out-of-sample Sharpe ratio could be "
        "luck, given the 11 parameter set(s) tried",
        "overfitting (PBO)           0.39: the set best in sample was at or below the median out of "
        "sample in 39% of 12,870 splits (0.5 is no better than picking at random)",
        "html report: none written (--html FILE writes one)",
    ]
    assert round(result.efficiency, 2) == 0.56
    assert (round(result.overfitting.pbo, 2), result.overfitting.splits) == (0.39, 12870)
    assert WalkForwardRun.objects.count() == 0


def test_a_window_without_an_eligible_set_prints_why():
    lines = run(
        *("--strategy", "momentum", "--csv", str(GOOG), "--in-sample-days", "504"),
        *("--out-of-sample-days", "252", "--min-trades", "40", "--grid", "fast=10", "--grid", "slow=20"),
    )

    assert lines[3] == (
        "     0  2004-08-19..2006-08-17  2006-08-18..2007-08-20  no parameter set made at least 40 "
        "in-sample trade(s) with a sharpe_ratio: the window stays out of the market"
    )


def test_stored_bars_make_a_recorded_run_with_its_report_and_json(aaa, artifacts, tmp_path):
    lines = run(*AAA_WALK_FORWARD, "--html", str(tmp_path / "wf.html"), "--json", str(tmp_path / "wf.json"))

    wf_run = WalkForwardRun.objects.get()
    report = artifacts / "walkforwards" / f"{wf_run.pk}.html"
    assert lines[0] == (
        f"walk-forward run #{wf_run.pk}: momentum on AAA 1d, stored bars (all of them), "
        "4 parameter set(s), in this process"
    )
    assert lines[1].startswith("4 window(s), 20 backtests of a set, out of sample 2024-01-02..2024-12-31, ")
    assert len([line for line in lines if line[:6].strip().isdigit()]) == 4
    assert lines[-3:] == [
        f"html report: {report}",
        f"html report: {tmp_path / 'wf.html'}",
        f"json result: {tmp_path / 'wf.json'}",
    ]
    assert (wf_run.status, wf_run.chunk_size, wf_run.backtest_config["commission_per_trade"]) == (
        "done",
        200,
        "1.50",
    )
    assert wf_run.walk_forward_config["parameter_grid"] == {"fast": [5, 10], "slow": [20, 40]}
    assert (tmp_path / "wf.html").read_bytes() == report.read_bytes()
    assert json.loads((tmp_path / "wf.json").read_text()) == wf_run.result
    bars = stored_bars_get(symbols=["AAA"], timeframe=Timeframe.D1, start=None, end=None)
    expected = walk_forward_json(
        WalkForwardEngine().run(
            None,
            StrategyConfig(strategy="momentum", universe=["AAA"]),
            bars,
            WalkForwardConfig(
                in_sample_days=250,
                out_of_sample_days=63,
                step_days=63,
                parameter_grid={"fast": [5, 10], "slow": [20, 40]},
            ),
            BacktestConfig(commission_per_trade=Decimal("1.50"), slippage_bps=Decimal("5")),
        )
    )
    assert wf_run.result["aggregated_metrics"] == expected["aggregated_metrics"]
    assert wf_run.result["windows"] == expected["windows"]


def test_workers_celery_without_a_broker_is_refused_in_one_line(aaa):
    with pytest.raises(CommandError) as raised:
        run(*AAA_WALK_FORWARD, "--workers", "celery")

    assert str(raised.value) == (
        "--workers celery needs a Celery broker: set CELERY_BROKER_URL (without one, tasks run in this "
        "process; leave --workers out to run here)"
    )
    assert WalkForwardRun.objects.count() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--grid", "speed=1,2"],
            "the grid's 'speed' is not a parameter of momentum; its parameters: fast, slow",
        ),
        (["--grid", "fast=5,7"], "--grid fast is given twice"),
        (["--in-sample-days", "0"], "in_sample_days must be a whole number of days, at least 1, not 0"),
        (["--min-trades", "-1"], "min_trades_required must be a whole number >= 0, not -1"),
        (["--symbols", "ZZZ"], "unknown symbol 'ZZZ'"),
        (["--commission", "lots"], "--commission 'lots' is not a number"),
        (
            ["--objective", "luck"],
            "Error: argument --objective: invalid choice: 'luck' (choose from 'sharpe', "
            "'total_return', 'sortino', 'calmar', 'profit_factor')",
        ),
    ],
)
def test_bad_inputs_exit_with_one_clear_line(args, message):
    """Refused before any bar is read (no bars are stored here)."""
    with pytest.raises(CommandError) as raised:
        run(*AAA_WALK_FORWARD, *args)

    assert str(raised.value) == message
    assert WalkForwardRun.objects.count() == 0


def test_too_little_data_fails_the_recorded_run_with_the_reason(aaa):
    with pytest.raises(CommandError) as raised:
        run(*AAA_WALK_FORWARD[:6], "--in-sample-days", "500", "--out-of-sample-days", "63")

    message = "502 sessions of data: a walk-forward needs at least in_sample_days + out_of_sample_days = 563"
    assert str(raised.value) == message
    assert WalkForwardRun.objects.values_list("status", "error").get() == ("failed", message)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("fast=5:50:5", ("fast", [5, 10, 15, 20, 25, 30, 35, 40, 45, 50])),
        ("slow=20:200:60", ("slow", [20, 80, 140, 200])),
        ("slow=20:199:60", ("slow", [20, 80, 140])),
        ("band_std=0.5:2.5:0.5", ("band_std", [0.5, 1.0, 1.5, 2.0, 2.5])),
        ("band_std=0.1:0.3:0.1", ("band_std", [0.1, 0.2, 0.3])),  # exact steps, no 0.30000000000000004
        ("fast=10", ("fast", [10])),
        ("fast=5, 10,20", ("fast", [5, 10, 20])),
        ("mode=a,b", ("mode", ["a", "b"])),
        ("allow=true,false", ("allow", [True, False])),
    ],
)
def test_grid_values_are_a_range_with_its_stop_or_a_list(text, parsed):
    assert parse_grid(text) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fast", "--grid 'fast' is not NAME=START:STOP:STEP or NAME=A,B,C"),
        ("=1,2", "--grid '=1,2' is not NAME=START:STOP:STEP or NAME=A,B,C"),
        ("fast=1:2", "--grid 'fast=1:2' is not NAME=START:STOP:STEP"),
        ("fast=a:5:1", "--grid fast 'a' is not a number"),
        ("fast=1:5:0", "--grid 'fast=1:5:0': the step must be positive"),
        ("fast=50:5:5", "--grid 'fast=50:5:5': the stop is below the start"),
        ("fast=0:100000:1", "--grid 'fast=0:100000:1': 100,001 values; at most 10,000"),
    ],
)
def test_a_bad_grid_is_refused(text, message):
    with pytest.raises(InvalidInput) as raised:
        parse_grid(text)

    assert raised.value.message == message
