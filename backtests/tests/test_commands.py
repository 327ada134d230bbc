"""The backtest CLI: what it prints and writes, its one-line refusals, and the shipped strategy configs."""

import json
from io import StringIO
from pathlib import Path

import backtesting
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from backtests.models import BacktestRun
from marketdata.core.errors import InvalidInput
from marketdata.models import PriceBar
from quantsite.cli import parse_param
from strategies.core.config import strategy_config_load
from strategies.core.registry import strategy_build

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("artifacts")]

GOOG = Path(backtesting.__file__).parent / "test" / "GOOG.csv"  # backtesting.py's reference data
CONFIGS = Path(settings.BASE_DIR) / "configs" / "strategies"
GOOG_MOMENTUM = [
    *("--strategy", "momentum", "--symbols", "GOOG", "--timeframe", "1d", "--csv", str(GOOG)),
    *("--param", "fast=10", "--param", "slow=20", "--initial-capital", "10000", "--commission", "0"),
    *("--slippage-bps", "0", "--fill-timing", "next_open"),
]


def run(*args) -> list[str]:
    out = StringIO()
    call_command("backtest", *args, stdout=out)
    return out.getvalue().splitlines()


def test_a_csv_backtest_of_goog_matches_backtesting_py_and_prints_the_metrics_table():
    lines = run(*GOOG_MOMENTUM)

    assert lines[0] == f"backtest of momentum on GOOG 1d from {GOOG} (not stored)"
    assert lines[1].startswith("2,148 bars 2004-08-19..2013-03-01, fast path, ")
    assert lines[2:] == [
        "metric                       value",
        "total return %              656.46",
        "CAGR %                       26.79",
        "Sharpe                        1.18",
        "Sortino                       1.91",
        "max drawdown %               18.94",
        "win rate %                   63.04",
        "trades                          46",  # backtesting.py: 46 trades, final equity 75,645.99
        "profit factor                 3.13",
        "exposure %                   57.40",
        "final equity             75,645.99",
        "benchmark return %          703.46",
        "html report: none written (--html FILE writes one)",
    ]
    assert BacktestRun.objects.count() == 0
    assert PriceBar.objects.count() == 0


def test_the_bar_by_bar_loop_gives_the_same_figures():
    lines = run(*GOOG_MOMENTUM, "--no-fast")

    assert lines[1].startswith("2,148 bars 2004-08-19..2013-03-01, event path, ")
    assert lines[9] == "trades                          46"
    assert lines[12] == "final equity             75,645.99"


def test_json_writes_the_whole_result_with_its_trades_and_html_the_report(tmp_path):
    lines = run(
        *GOOG_MOMENTUM, "--json", str(tmp_path / "goog.json"), "--html", str(tmp_path / "out/goog.html")
    )

    document = json.loads((tmp_path / "goog.json").read_text())
    assert lines[-2:] == [
        f"html report: {tmp_path / 'out/goog.html'}",
        f"json result: {tmp_path / 'goog.json'}",
    ]
    assert len(document["trades"]) == document["metrics"]["total_trades"] == 46
    assert document["trades"][0] == {
        "symbol": "GOOG",
        "direction": "long",
        "quantity": 55.0,
        "entry_time": "2004-12-06T00:00:00+00:00",
        "entry_price": 179.13,
        "exit_time": "2004-12-20T00:00:00+00:00",
        "exit_price": 182.0,
        "pnl": pytest.approx(157.85, abs=1e-9),
        "commission": 0.0,
        "return_pct": pytest.approx(1.6021883548261062, rel=1e-12),
        "bars_held": 10,
    }
    assert round(document["metrics"]["final_equity"], 2) == 75645.99
    assert document["config"]["initial_capital"] == "10000"
    assert document["config"]["fill_timing"] == "next_open"
    assert len(document["equity_curve"]) == 2148
    assert (tmp_path / "out/goog.html").read_text().startswith("<!DOCTYPE html>")


def test_a_small_csv_file_is_backtested_without_storing_anything(tmp_path):
    path = tmp_path / "xyz.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2024-01-02,100,101,99,100,1000\n"
        "2024-01-03,100,104,99,103,1000\n"
        "2024-01-04,103,106,102,105,1000\n"
    )

    lines = run(
        *("--strategy", "buy_and_hold", "--csv", str(path), "--commission", "0", "--slippage-bps", "0")
    )

    # 100 shares bought at the first close (100) with all 10,000, worth 105 each at the end.
    assert lines[0] == f"backtest of buy_and_hold on XYZ 1d from {path} (not stored)"
    assert lines[3] == "total return %                5.00"
    assert lines[9] == "trades                           0"
    assert lines[12] == "final equity             10,500.00"
    assert BacktestRun.objects.count() == 0


def test_a_csv_file_with_a_bad_row_is_refused_naming_the_first_one(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2024-01-02,100,101,99,100,1000\n"
        "2024-01-03,100,104,99,abc,1000\n"
        "2024-01-04,103,101,102,105,1000\n"
    )

    with pytest.raises(CommandError) as raised:
        run("--strategy", "buy_and_hold", "--csv", str(path))

    assert str(raised.value) == (
        f"{path}: 2 bad row(s); the first is row 3 (2024-01-03): close is not a number: 'abc'"
    )


def test_stored_bars_make_a_recorded_run_with_its_report(aaa, artifacts, tmp_path):
    lines = run(
        *("--strategy", "momentum", "--symbols", "AAA", "--param", "fast=5", "--param", "slow=15"),
        *("--start", "2023-01-01", "--end", "2024-12-31", "--commission", "1.50", "--slippage-bps", "5"),
        *("--html", str(tmp_path / "copy.html")),
    )

    run_ = BacktestRun.objects.get()
    report = artifacts / "backtests" / f"run-{run_.pk}.html"
    assert (
        lines[0]
        == f"backtest run #{run_.pk}: momentum on AAA 1d, stored bars between 2023-01-01 and 2024-12-31"
    )
    assert lines[1].startswith("502 bars 2023-01-03..2024-12-31, fast path, ")
    assert lines[9] == "trades                          18"
    assert lines[12] == "final equity              9,222.65"
    assert f"{run_.metrics['final_equity']:,.2f}" == "9,222.65"
    assert lines[-2:] == [f"html report: {report}", f"html report: {tmp_path / 'copy.html'}"]
    assert (run_.status, len(run_.trades), run_.config["backtest"]["commission_per_trade"]) == (
        "done",
        18,
        "1.50",
    )
    assert (tmp_path / "copy.html").read_bytes() == report.read_bytes()


def test_a_config_file_is_loaded_and_the_flags_override_it(aaa):
    run(
        *("--config", str(CONFIGS / "momentum_v1.yaml"), "--symbols", "AAA", "--param", "fast=5"),
    )

    config = BacktestRun.objects.get().config["strategy"]
    assert (config["strategy"], config["name"], config["universe"]) == ("momentum", "momentum_v1", ["AAA"])
    assert config["parameters"] == {"fast": 5, "slow": 20}
    assert config["sizing"]["mode"] == "fixed_fractional"
    assert config["risk"]["max_position_pct"] == 35.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--strategy", "momentum", "--symbols", "AAA", "--param", "slow=abc"],
            "strategy 'momentum' parameters: slow: Input should be a valid integer, "
            "unable to parse string as an integer",
        ),
        (
            ["--strategy", "momentum", "--symbols", "AAA", "--param", "fast=30", "--param", "slow=20"],
            "strategy 'momentum' parameters: fast (30) must be below slow (20)",
        ),
        (
            ["--strategy", "momentum", "--symbols", "AAA", "--param", "speed"],
            "--param 'speed' is not NAME=VALUE",
        ),
        (
            ["--strategy", "foo", "--symbols", "AAA"],
            "unknown strategy 'foo'; known: bull_put_spread, buy_and_hold, covered_call, "
            "iron_condor, mean_reversion, ml_classifier, momentum",
        ),
        (["--symbols", "AAA"], "give --strategy or --config"),
        (["--strategy", "momentum", "--symbols", "ZZZ"], "unknown symbol 'ZZZ'"),
        (
            ["--strategy", "momentum", "--symbols", "AAA", "--timeframe", "2d"],
            "unknown timeframe '2d'; use one of 1m, 5m, 15m, 1h, 1d",
        ),
        (
            ["--strategy", "momentum", "--symbols", "AAA", "--start", "01/02/2024"],
            "--start '01/02/2024' is not a date (YYYY-MM-DD)",
        ),
        (
            ["--strategy", "momentum", "--symbols", "AAA", "--initial-capital", "lots"],
            "--initial-capital 'lots' is not a number",
        ),
        (
            ["--strategy", "momentum", "--symbols", "AAA", "--fill-timing", "at_noon"],
            "fill timing 'at_noon' is not one of close, next_open",
        ),
        (
            ["--strategy", "momentum", "--symbols", "AAA", "--start", "2030-01-01"],
            "no 1d bars of AAA stored from 2030-01-01",
        ),
        (["--config", "nowhere.yaml"], "nowhere.yaml: No such file or directory"),
    ],
)
def test_bad_inputs_exit_with_one_clear_line(aaa, args, message):
    with pytest.raises(CommandError) as raised:
        run(*args)

    assert str(raised.value) == message
    assert BacktestRun.objects.count() == 0


def test_a_run_that_fails_is_recorded_and_reported_in_one_line(aaa):
    message = "the fast path cannot run this backtest: ATR sizing and position caps need the bar-by-bar loop"

    with pytest.raises(CommandError) as raised:
        run("--config", str(CONFIGS / "momentum_v1.yaml"), "--symbols", "AAA", "--fast")

    assert str(raised.value) == message
    assert BacktestRun.objects.values_list("status", "error").get() == ("failed", message)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("fast=10", ("fast", 10)),
        ("band_std=2.5", ("band_std", 2.5)),
        ("allow=true", ("allow", True)),
        ("allow=False", ("allow", False)),
        ("mode= fast ", ("mode", "fast")),
    ],
)
def test_param_values_are_int_then_float_then_bool_then_string(text, parsed):
    assert parse_param(text) == parsed


def test_param_without_a_value_is_refused():
    with pytest.raises(InvalidInput, match="--param '=3' is not NAME=VALUE"):
        parse_param("=3")


def test_every_shipped_strategy_config_loads_and_builds():
    paths = sorted(CONFIGS.glob("*.yaml"))

    configs = {p.name: strategy_config_load(p) for p in paths}

    assert {name: (c.strategy, c.universe, c.timeframe) for name, c in configs.items()} == {
        "bull_put_spread_v1.yaml": ("bull_put_spread", ["SPY"], "1d"),
        "covered_call_v1.yaml": ("covered_call", ["AAA"], "1d"),
        "iron_condor_v1.yaml": ("iron_condor", ["SPY"], "1d"),
        "mean_reversion_v1.yaml": ("mean_reversion", ["AAA", "BBB", "CCC"], "1d"),
        "momentum_v1.yaml": ("momentum", ["AAA", "BBB", "CCC"], "1d"),
    }
    for config in configs.values():
        strategy_build(config)  # raises InvalidInput on a bad parameter
