"""The strategy agent's backtest tool starts the run POST /api/v1/runs/ starts: the same metrics."""

import pytest

from backtests.models import BacktestRun

pytestmark = pytest.mark.django_db

CONFIG = {"strategy": "momentum", "universe": ["AAA"], "parameters": {"fast": 10, "slow": 30}}


def test_a_backtest_runs_as_the_apis_and_is_remembered(
    as_role, invoke, aaa, artifacts, memory, django_capture_on_commit_callbacks
):
    operator = as_role("operator")
    span = {"start_date": "2023-06-01", "end_date": "2024-12-31"}

    with django_capture_on_commit_callbacks(execute=True):
        tool = invoke(operator, "backtest_strategy", strategy_config=CONFIG, slippage_bps="5", **span).json()
    with django_capture_on_commit_callbacks(execute=True):
        api = operator.post(
            "/api/v1/runs/",
            {
                "strategy": "momentum",
                "symbols": ["AAA"],
                "parameters": CONFIG["parameters"],
                "slippage_bps": "5",
                "start": span["start_date"],
                "end": span["end_date"],
            },
            format="json",
        ).json()

    result = tool["result"]
    by_tool, by_api = BacktestRun.objects.order_by("id")
    assert (result["id"], result["status"], result["kind"]) == (by_tool.pk, "queued", "backtest")
    by_tool.refresh_from_db()
    assert by_tool.status == "done"
    assert by_tool.metrics == BacktestRun.objects.get(pk=api["id"]).metrics
    assert by_tool.metrics["total_trades"] > 0
    assert by_tool.config == by_api.config
    assert memory.entries("strategy")["last_backtest"]["value"] == {
        "run": by_tool.pk,
        "strategy": "momentum",
        "status": "queued",
    }


def test_a_bad_config_is_refused_before_a_run_is_kept(as_role, invoke, aaa):
    answer = invoke(
        as_role("operator"), "backtest_strategy", strategy_config={**CONFIG, "strategy": "astrology"}
    )

    assert (answer.status_code, answer.json()["message"]) == (
        400,
        "unknown strategy 'astrology'; known: bull_put_spread, buy_and_hold, covered_call, "
        "iron_condor, mean_reversion, ml_classifier, momentum",
    )
    assert not BacktestRun.objects.exists()
