"""Backtest runs API: authentication, validation and error shapes, starting a run, detail, report."""

import pytest

from backtests.models import BacktestRun

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("artifacts")]

REQUEST = {
    "strategy": "momentum",
    "symbols": ["AAA"],
    "timeframe": "1d",
    "start": "2023-01-01",
    "end": "2024-12-31",
    "parameters": {"fast": 5, "slow": 15},
    "initial_capital": "10000",
    "commission_per_trade": "1.50",
    "slippage_bps": "5",
    "fill_timing": "close",
}


def start(api, capture, **changes):
    with capture(execute=True):  # the run is queued once its row is committed (eager Celery here)
        return api.post("/api/v1/runs/", {**REQUEST, **changes}, format="json")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/runs/"),
        ("post", "/api/v1/runs/"),
        ("get", "/api/v1/runs/1/"),
        ("get", "/api/v1/runs/1/report/"),
    ],
)
def test_unauthenticated_calls_get_401_in_the_error_shape(anon, method, url):
    response = getattr(anon, method)(url)

    assert response.status_code == 401
    assert response.json() == {
        "error": "not_authenticated",
        "message": "Authentication credentials were not provided.",
        "details": {},
    }


def test_post_validates_the_fill_timing_with_field_errors(api, aaa):
    response = api.post("/api/v1/runs/", {**REQUEST, "fill_timing": "at_noon"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_input",
        "message": 'fill_timing: "at_noon" is not a valid choice.',
        "details": {"fill_timing": ['"at_noon" is not a valid choice.']},
    }
    assert BacktestRun.objects.count() == 0


def test_post_of_an_unknown_strategy_is_a_400_in_the_error_shape(api, aaa):
    response = api.post("/api/v1/runs/", {**REQUEST, "strategy": "foo"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_input",
        "message": "unknown strategy 'foo'; known: bull_put_spread, buy_and_hold, covered_call, "
        "iron_condor, mean_reversion, ml_classifier, momentum",
        "details": {},
    }


@pytest.mark.parametrize(
    ("changes", "status", "body"),
    [
        (
            {"parameters": {"fast": 20, "slow": 10}},
            400,
            {
                "error": "invalid_input",
                "message": "strategy 'momentum' parameters: fast (20) must be below slow (10)",
                "details": {},
            },
        ),
        (
            {"sizing": {"mode": "all_in"}},
            400,
            {
                "error": "invalid_input",
                "message": "strategy config: sizing.mode: Input should be 'qty', 'notional', "
                "'equity_fraction', 'fixed_fractional' or 'atr_risk'",
                "details": {},
            },
        ),
        (
            {"symbols": ["AAA", "ZZZ"]},
            404,
            {"error": "not_found", "message": "unknown symbol 'ZZZ'", "details": {}},
        ),
        (
            {"start": "2030-01-01", "end": "2030-12-31"},
            400,
            {
                "error": "invalid_input",
                "message": "no 1d bars of AAA stored between 2030-01-01 and 2030-12-31",
                "details": {},
            },
        ),
        (
            {"initial_capital": "0"},
            400,
            {"error": "invalid_input", "message": "initial capital must be positive, not 0", "details": {}},
        ),
        (
            {"symbols": []},
            400,
            {
                "error": "invalid_input",
                "message": "symbols: Ensure this field has at least 1 elements.",
                "details": {"symbols": ["Ensure this field has at least 1 elements."]},
            },
        ),
    ],
)
def test_post_refuses_bad_requests(api, aaa, changes, status, body):
    response = api.post("/api/v1/runs/", {**REQUEST, **changes}, format="json")

    assert (response.status_code, response.json()) == (status, body)
    assert BacktestRun.objects.count() == 0


def test_post_creates_and_queues_a_run_that_then_shows_done_with_its_results(
    api, aaa, django_capture_on_commit_callbacks
):
    response = start(api, django_capture_on_commit_callbacks)

    run = BacktestRun.objects.get()
    assert response.status_code == 202
    assert response.json()["id"] == run.pk
    assert response.json()["status"] == "queued"  # the task ran once the request's work was committed

    detail = api.get(f"/api/v1/runs/{run.pk}/").json()

    assert detail["status"] == "done"
    assert detail["requested_by"] == "alice"
    assert (detail["strategy"], detail["symbols"], detail["timeframe"], detail["source"]) == (
        "momentum",
        ["AAA"],
        "1d",
        "stored",
    )
    assert (detail["start"], detail["end"]) == ("2023-01-01T00:00:00Z", "2024-12-31T23:59:59.999999Z")
    assert detail["metrics"]["total_trades"] == len(detail["trades"]) == 18
    assert detail["metrics"]["final_equity"] == run.metrics["final_equity"]
    assert detail["trades"][0] == run.trades[0]
    assert sorted(detail["trades"][0]) == [
        "bars_held",
        "commission",
        "direction",
        "entry_price",
        "entry_time",
        "exit_price",
        "exit_time",
        "pnl",
        "quantity",
        "return_pct",
        "symbol",
    ]
    assert len(detail["equity_curve"]) == 502
    assert detail["equity_curve"][-1]["equity"] == run.metrics["final_equity"]
    assert detail["config"]["backtest"]["commission_per_trade"] == "1.50"
    assert detail["report_url"] == f"http://testserver/api/v1/runs/{run.pk}/report/"


def test_the_report_endpoint_serves_the_html_file(api, aaa, django_capture_on_commit_callbacks):
    run_id = start(api, django_capture_on_commit_callbacks).json()["id"]

    response = api.get(f"/api/v1/runs/{run_id}/report/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b"".join(response.streaming_content).startswith(b"<!DOCTYPE html>")


def test_the_report_of_a_run_not_done_is_a_404_in_the_error_shape(api, aaa):
    response = api.post("/api/v1/runs/", REQUEST, format="json")  # queued: on_commit never fires here
    run_id = response.json()["id"]

    report = api.get(f"/api/v1/runs/{run_id}/report/")

    assert report.status_code == 404
    assert report.json() == {
        "error": "not_found",
        "message": f"the report of backtest run #{run_id} is not ready (status queued)",
        "details": {},
    }


def test_an_unknown_run_is_a_404_in_the_error_shape(api):
    response = api.get("/api/v1/runs/999/")

    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "no backtest run #999", "details": {}}


def test_the_list_is_paginated_and_filters_by_status_and_strategy(
    api, aaa, django_capture_on_commit_callbacks
):
    done = start(api, django_capture_on_commit_callbacks, strategy="buy_and_hold", parameters={}).json()["id"]
    queued = api.post("/api/v1/runs/", REQUEST, format="json").json()["id"]

    everything = api.get("/api/v1/runs/").json()
    by_status = api.get("/api/v1/runs/", {"status": "queued"}).json()
    by_strategy = api.get("/api/v1/runs/", {"strategy": "buy_and_hold"}).json()

    assert (everything["count"], [r["id"] for r in everything["results"]]) == (2, [queued, done])
    assert [r["id"] for r in by_status["results"]] == [queued]
    assert [(r["id"], r["status"]) for r in by_strategy["results"]] == [(done, "done")]
    assert "trades" not in everything["results"][0]
    assert everything["results"][1]["metrics"]["total_trades"] == 0
