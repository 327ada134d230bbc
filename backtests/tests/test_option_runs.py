"""Options backtests as recorded runs: the CLI (by strategy and parameters, or by config) on
synthetic chains priced from the stored bars, the runs API, and the refusals that say what to do."""

from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from backtests.core.results import BacktestConfig
from backtests.core.walkforward import WalkForwardConfig
from backtests.models import BacktestRun
from backtests.services import backtest_run_create, backtest_run_execute
from backtests.walkforward_services import walk_forward_run_create
from conftest import _ingest_synthetic
from marketdata.core.errors import InvalidInput
from quantsite.artifacts import artifact_location
from strategies.core.config import StrategyConfig

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("artifacts")]

CONDOR = "configs/strategies/iron_condor_v1.yaml"
SPAN = ("--start", "2024-06-03", "--end", "2024-08-30")


def run(*args) -> list[str]:
    out = StringIO()
    call_command("backtest", *args, stdout=out)
    return out.getvalue().splitlines()


@pytest.fixture
def spy():
    """SPY's synthetic daily bars (seed 7) of 2023 and 2024."""
    _ingest_synthetic("SPY", datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, 23, 59, tzinfo=UTC))
    return "SPY"


def test_the_cli_backtests_an_iron_condor_on_synthetic_chains_as_a_recorded_run(aaa):
    lines = run("--strategy", "iron_condor", "--symbols", "AAA", "--param", "short_delta=0.2", *SPAN)

    backtest = BacktestRun.objects.get()
    assert lines[0] == (
        f"backtest run #{backtest.pk}: iron_condor on AAA 1d, stored bars between 2024-06-03 and 2024-08-30"
    )
    trades = len(backtest.option_trades)
    assert lines[1].startswith("63 bars 2024-06-03..2024-08-30, options path, ")
    assert lines[1].endswith(f" s; {trades} option trades, 0 orders refused")
    assert lines[2] == "metric                       value"
    assert lines[9] == f"trades{trades:>28}"
    assert lines[-1] == f"html report: {artifact_location(backtest.report_path)}"
    assert (backtest.status, backtest.trades) == ("done", [])
    assert backtest.metrics["total_trades"] == trades >= 2
    assert backtest.config["chains"] == {"source": "synthetic", "seed": 7}
    assert backtest.config["options"]["settlement"] == "cash"
    for trade in backtest.option_trades:
        assert [leg["side"] for leg in trade["legs"]] == ["buy", "sell", "sell", "buy"]
        assert trade["entry_price"] < 0  # a credit
        assert trade["exit_reason"]
    report = (settings.ARTIFACT_STORAGE / backtest.report_path).read_text()
    assert '<section id="options">' in report


def test_the_chains_seed_is_the_runs_and_the_same_seed_gives_the_same_trades(aaa):
    args = ("--strategy", "bull_put_spread", "--symbols", "AAA", *SPAN)
    run(*args)
    run(*args)
    run(*args, "--chain-seed", "8")

    first, again, other = (
        [without_ids(t) for t in r.option_trades] for r in BacktestRun.objects.order_by("pk")
    )
    assert first == again
    assert BacktestRun.objects.order_by("pk").last().config["chains"]["seed"] == 8
    assert other != first


def without_ids(trade: dict) -> dict:
    return {k: v for k, v in trade.items() if k != "order_id"}  # order ids count up across runs


def test_the_example_config_backtests_spy(spy):
    lines = run("--config", CONDOR, "--symbols", "SPY", *SPAN, "--initial-capital", "250000")

    backtest = BacktestRun.objects.get()
    assert backtest.status == "done"
    assert backtest.config["strategy"]["parameters"]["risk_pct"] == 2
    assert lines[1].startswith("63 bars 2024-06-03..2024-08-30, options path, ")
    for trade in backtest.option_trades:
        strikes = [int(leg["symbol"][-8:]) / 1000 for leg in trade["legs"]]
        assert strikes[1] - strikes[0] == strikes[3] - strikes[2] == 50  # width 50
        assert trade["units"] == 1  # 2% of 250,000 over a max loss under 5,000


def test_options_settings_are_kept_on_the_run_and_used(aaa):
    run("--strategy", "covered_call", "--symbols", "AAA", *SPAN)
    run("--strategy", "covered_call", "--symbols", "AAA", *SPAN, "--settlement", "assign")
    run("--strategy", "covered_call", "--symbols", "AAA", *SPAN, "--contract-commission", "1.5")

    default, assign, costly = BacktestRun.objects.order_by("pk")
    assert default.config["options"]["commission_per_contract"] == "0.65"
    assert assign.config["options"]["settlement"] == "assign"
    assert costly.config["options"]["commission_per_contract"] == "1.5"
    assert [t["commission"] for t in costly.option_trades] == [
        pytest.approx(t["commission"] * 1.5 / 0.65) for t in default.option_trades
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--strategy", "iron_condor", "--symbols", "ZZZ"],
            "unknown symbol 'ZZZ'; ingest its daily bars first, e.g. python manage.py ingest --provider "
            "synthetic --symbols ZZZ --years 3 --timeframe 1d",
        ),
        (
            ["--strategy", "iron_condor", "--symbols", "AAA", "--start", "2030-01-01"],
            "no 1d bars of AAA stored from 2030-01-01; ingest its daily bars first",
        ),
        (
            ["--strategy", "iron_condor", "--symbols", "AAA,BBB"],
            "strategy 'iron_condor' trades the options of one underlying; the config names AAA, BBB",
        ),
        (
            ["--strategy", "momentum", "--symbols", "AAA", "--settlement", "assign"],
            "options settings and a chain seed are for option strategies; momentum trades shares",
        ),
        (["--strategy", "iron_condor", "--symbols", "AAA", "--fast"], "no compiled fast path"),
        (["--strategy", "iron_condor", "--symbols", "AAA", "--settlement", "shares"], "'cash' or 'assign'"),
        (["--strategy", "iron_condor", "--symbols", "AAA", "--param", "width=-5"], "width: Input should be"),
    ],
)
def test_refusals_say_what_to_do(aaa, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(*args)


def test_too_few_bars_to_price_chains_is_a_failed_run_that_says_so(aaa):
    _ingest_synthetic("BBB", datetime(2024, 9, 2, tzinfo=UTC), datetime(2024, 12, 31, tzinfo=UTC))
    backtest = backtest_run_create(
        strategy_config=StrategyConfig(strategy="iron_condor", universe=["BBB"]),
        backtest_config=BacktestConfig(),
    )

    with pytest.raises(InvalidInput, match="are too few for an options backtest"):
        backtest_run_execute(run=backtest)

    backtest.refresh_from_db()
    assert backtest.status == "failed"
    assert backtest.error == (
        "the bars of BBB from 2024-09-03 to 2024-12-31 are too few for an options backtest: its chains "
        "are priced from the 194 calendar days of bars before its first session; ingest its daily bars "
        "first, e.g. python manage.py ingest --provider synthetic --symbols BBB --years 3 --timeframe 1d"
    )


def test_the_runs_api_starts_an_options_backtest(api, aaa, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the run is queued once committed
        response = api.post(
            "/api/v1/runs/",
            {
                "strategy": "iron_condor",
                "symbols": ["AAA"],
                "start": "2024-06-03",
                "end": "2024-08-30",
                "initial_capital": "100000",
                "parameters": {"short_delta": 0.2},
                "options": {"chain_seed": 7, "settlement": "assign"},
            },
            format="json",
        )

    assert response.status_code == 202
    backtest = BacktestRun.objects.get()
    body = api.get(f"/api/v1/runs/{backtest.pk}/").json()
    assert body["status"] == "done"
    assert body["config"]["options"]["settlement"] == "assign"
    assert body["option_trades"] == backtest.option_trades
    assert len(body["option_trades"]) == body["metrics"]["total_trades"] >= 2
    assert body["option_trades"][0]["legs"][1]["side"] == "sell"


def test_a_walk_forward_of_an_option_strategy_is_refused(aaa):
    with pytest.raises(InvalidInput, match="walk-forwards run share strategies; iron_condor trades options"):
        walk_forward_run_create(
            strategy_config=StrategyConfig(strategy="iron_condor", universe=["AAA"]),
            walk_forward_config=WalkForwardConfig(in_sample_days=100, out_of_sample_days=50, step_days=50),
            backtest_config=BacktestConfig(initial_capital=Decimal("100000")),
        )


def test_the_lookahead_check_refuses_an_option_strategy(aaa):
    with pytest.raises(CommandError, match="iron_condor trades options"):
        call_command("lookahead", "--strategy", "iron_condor", "--symbols", "AAA", stdout=StringIO())
