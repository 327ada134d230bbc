"""Walk-forwards in the runs API: starting one (POST /runs/ with kind), its detail and progress, the
runs list of both kinds, reports, and errors in the house shape."""

import pytest

from backtests.models import BacktestRun, WalkForwardRun
from backtests.walkforward_services import walk_forward_inputs_clear

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("artifacts")]

BACKTEST = {
    "strategy": "momentum",
    "symbols": ["AAA"],
    "parameters": {"fast": 5, "slow": 15},
    "commission_per_trade": "1.50",
    "slippage_bps": "5",
}
WALK_FORWARD = {
    "kind": "walk_forward",
    "strategy": "momentum",
    "symbols": ["AAA"],
    "in_sample_days": 250,
    "out_of_sample_days": 63,
    "grid": {"fast": [5, 10], "slow": [20, 40]},
    "objective": "total_return",
    "min_trades": 2,
    "initial_capital": "25000.10",
    "commission_per_trade": "1.50",
}


@pytest.fixture(autouse=True)
def fresh_inputs():
    walk_forward_inputs_clear()
    yield
    walk_forward_inputs_clear()


def start(api, capture, body=WALK_FORWARD, **changes):
    with capture(execute=True):  # queued once the run is committed (eager Celery here: it runs)
        return api.post("/api/v1/runs/", {**body, **changes}, format="json")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/walkforwards/"),
        ("get", "/api/v1/walkforwards/1/"),
        ("get", "/api/v1/walkforwards/1/report/"),
    ],
)
def test_unauthenticated_calls_get_401_in_the_error_shape(anon, method, url):
    response = getattr(anon, method)(url)

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_anonymous_cannot_start_a_walk_forward(anon, aaa):
    response = anon.post("/api/v1/runs/", WALK_FORWARD, format="json")

    assert response.status_code == 401
    assert WalkForwardRun.objects.count() == 0


def test_post_with_kind_walk_forward_starts_one_that_then_shows_done_with_its_result(
    api, aaa, django_capture_on_commit_callbacks
):
    response = start(api, django_capture_on_commit_callbacks)

    run = WalkForwardRun.objects.get()
    body = response.json()
    assert response.status_code == 202
    assert (body["id"], body["kind"], body["status"]) == (run.pk, "walk_forward", "queued")
    assert body["url"] == f"http://testserver/api/v1/walkforwards/{run.pk}/"
    assert body["progress"] == {"done": 0, "total": 0}
    assert body["result"] is None

    detail = api.get(body["url"]).json()

    assert detail["status"] == "done"
    assert detail["requested_by"] == "alice"
    assert detail["progress"] == {"done": 5, "total": 5}  # 4 windows + the whole span, 4 sets a job
    assert detail["chunk_size"] == 200
    assert detail["result"] == run.result
    assert len(detail["result"]["windows"]) == 4
    assert detail["result"]["config"]["objective"] == "total_return"
    assert detail["result"]["config"]["min_trades_required"] == 2
    assert detail["walk_forward_config"]["step_days"] == 63  # the out-of-sample days by default
    assert detail["backtest_config"]["initial_capital"] == "25000.10"
    assert detail["trials_count"] == detail["result"]["trials"] == 20
    assert detail["total_return_pct"] == run.result["aggregated_metrics"]["total_return_pct"]
    assert detail["pbo"] == run.result["overfitting"]["pbo"]
    assert detail["dsr_probability"] == run.result["deflated_sharpe"]["probability"]
    assert detail["report_url"] == f"http://testserver/api/v1/walkforwards/{run.pk}/report/"
    report = api.get(detail["report_url"])
    assert report.status_code == 200
    assert report["Content-Type"] == "text/html; charset=utf-8"
    assert b"".join(report.streaming_content).startswith(b"<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("changes", "status", "body"),
    [
        (
            {"in_sample_days": None},
            400,
            {
                "error": "invalid_input",
                "message": "in_sample_days: This field may not be null.",
                "details": {"in_sample_days": ["This field may not be null."]},
            },
        ),
        (
            {"window_type": "sliding"},
            400,
            {
                "error": "invalid_input",
                "message": 'window_type: "sliding" is not a valid choice.',
                "details": {"window_type": ['"sliding" is not a valid choice.']},
            },
        ),
        (
            {"grid": {"fast": []}},
            400,
            {
                "error": "invalid_input",
                "message": "grid: fast: Ensure this field has at least 1 elements.",
                "details": {"grid": {"fast": ["Ensure this field has at least 1 elements."]}},
            },
        ),
        (
            {"grid": {"speed": [1, 2]}},
            400,
            {
                "error": "invalid_input",
                "message": "the grid's 'speed' is not a parameter of momentum; its parameters: fast, slow",
                "details": {},
            },
        ),
        (
            {"grid": {"fast": [5, 50], "slow": [20]}},
            400,
            {
                "error": "invalid_input",
                "message": "the grid's fast=50 makes no valid parameter set: "
                "strategy 'momentum' parameters: fast (50) must be below slow (20)",
                "details": {},
            },
        ),
        (
            {"kind": "optimise"},
            400,
            {
                "error": "invalid_input",
                "message": 'kind: "optimise" is not a valid choice.',
                "details": {"kind": ['"optimise" is not a valid choice.']},
            },
        ),
        (
            {"symbols": ["ZZZ"]},
            404,
            {"error": "not_found", "message": "unknown symbol 'ZZZ'", "details": {}},
        ),
    ],
)
def test_post_refuses_bad_walk_forward_requests(api, changes, status, body):
    """Refused before any bar is read (no bars are stored here)."""
    response = api.post("/api/v1/runs/", {**WALK_FORWARD, **changes}, format="json")

    assert (response.status_code, response.json()) == (status, body)
    assert WalkForwardRun.objects.count() == BacktestRun.objects.count() == 0


def test_a_walk_forward_on_too_little_data_shows_failed_with_the_reason(
    api, aaa, django_capture_on_commit_callbacks
):
    run_id = start(api, django_capture_on_commit_callbacks, in_sample_days=480).json()["id"]

    detail = api.get(f"/api/v1/walkforwards/{run_id}/").json()

    assert (detail["status"], detail["error"], detail["result"], detail["report_url"]) == (
        "failed",
        "502 sessions of data: a walk-forward needs at least in_sample_days + out_of_sample_days = 543",
        None,
        None,
    )


def test_the_runs_list_shows_both_kinds_newest_first_and_filters_by_kind(
    api, aaa, django_capture_on_commit_callbacks
):
    backtest = start(api, django_capture_on_commit_callbacks, body=BACKTEST).json()["id"]
    walk_forward = start(api, django_capture_on_commit_callbacks).json()["id"]
    queued = api.post("/api/v1/runs/", WALK_FORWARD, format="json").json()["id"]  # never dispatched

    everything = api.get("/api/v1/runs/").json()
    walk_forwards = api.get("/api/v1/runs/", {"kind": "walk_forward"}).json()
    backtests = api.get("/api/v1/runs/", {"kind": "backtest", "status": "done"}).json()
    oldest_first = api.get("/api/v1/runs/", {"ordering": "created_at"}).json()
    paged = api.get("/api/v1/runs/", {"page": 2}).json()

    assert everything["count"] == 3
    assert [(r["kind"], r["id"], r["status"]) for r in everything["results"]] == [
        ("walk_forward", queued, "queued"),
        ("walk_forward", walk_forward, "done"),
        ("backtest", backtest, "done"),
    ]
    assert [r["url"] for r in everything["results"]] == [
        f"http://testserver/api/v1/walkforwards/{queued}/",
        f"http://testserver/api/v1/walkforwards/{walk_forward}/",
        f"http://testserver/api/v1/runs/{backtest}/",
    ]
    assert everything["results"][1]["progress"] == {"done": 5, "total": 5}
    assert everything["results"][1]["trials_count"] == 20
    assert "result" not in everything["results"][1]
    assert everything["results"][2]["metrics"]["total_trades"] == 18
    assert [r["id"] for r in walk_forwards["results"]] == [queued, walk_forward]
    assert [(r["kind"], r["id"]) for r in backtests["results"]] == [("backtest", backtest)]
    assert [r["kind"] for r in oldest_first["results"]] == ["backtest", "walk_forward", "walk_forward"]
    assert paged == {"error": "not_found", "message": "Invalid page.", "details": {}}


def test_the_runs_list_refuses_an_unknown_kind_in_the_error_shape(api):
    response = api.get("/api/v1/runs/", {"kind": "optimise"})

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_input",
        "message": "kind: Select a valid choice. optimise is not one of the available choices.",
        "details": {"kind": ["Select a valid choice. optimise is not one of the available choices."]},
    }


def test_the_walkforwards_list_filters_by_status(api, aaa, django_capture_on_commit_callbacks):
    done = start(api, django_capture_on_commit_callbacks).json()["id"]
    queued = api.post("/api/v1/runs/", WALK_FORWARD, format="json").json()["id"]

    everything = api.get("/api/v1/walkforwards/").json()
    by_status = api.get("/api/v1/walkforwards/", {"status": "done"}).json()

    assert [(r["id"], r["status"]) for r in everything["results"]] == [(queued, "queued"), (done, "done")]
    assert [r["id"] for r in by_status["results"]] == [done]


def test_an_unknown_walk_forward_and_a_report_not_ready_are_404s_in_the_error_shape(api, aaa):
    queued = api.post("/api/v1/runs/", WALK_FORWARD, format="json").json()["id"]

    unknown = api.get("/api/v1/walkforwards/999/")
    report = api.get(f"/api/v1/walkforwards/{queued}/report/")

    assert (unknown.status_code, unknown.json()) == (
        404,
        {"error": "not_found", "message": "no walk-forward run #999", "details": {}},
    )
    assert (report.status_code, report.json()) == (
        404,
        {
            "error": "not_found",
            "message": f"the report of walk-forward run #{queued} is not ready (status queued)",
            "details": {},
        },
    )


def test_the_schema_documents_both_kinds(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()

    assert {"/api/v1/runs/", "/api/v1/walkforwards/", "/api/v1/walkforwards/{id}/"} <= set(schema["paths"])
    assert schema["components"]["schemas"]["RunInputRequest"]["discriminator"]["mapping"] == {
        "backtest": "#/components/schemas/BacktestRunInputRequest",
        "walk_forward": "#/components/schemas/WalkForwardRunInputRequest",
    }
