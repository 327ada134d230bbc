"""The Runs pages: a backtest started from the form (the API's validation, the same service) that
shows done with its figures and curves, two runs compared, and the tables refreshing while a run
is queued or running."""

import pytest

from backtests.models import BacktestRun

pytestmark = pytest.mark.django_db

FORM = {
    "strategy": "momentum",
    "symbols": "aaa",
    "timeframe": "1d",
    "start": "2023-02-01",
    "end": "2024-06-28",
    "parameters": '{"fast": 5, "slow": 20}',
    "initial_capital": "10000",
    "commission_per_trade": "1",
    "slippage_bps": "5",
}


def test_a_backtest_started_from_the_form_shows_done_with_its_figures(
    console_as, aaa, artifacts, django_capture_on_commit_callbacks
):
    client = console_as("olga")

    with django_capture_on_commit_callbacks(execute=True):  # the queued run runs (eager tasks)
        started = client.post("/runs/start/", FORM)
    run = BacktestRun.objects.get()
    page = client.get(started["Location"])

    assert started["Location"] == f"/runs/{run.pk}/"
    assert (run.status, run.symbols, run.requested_by.username) == ("done", ["AAA"], "olga")
    assert b'<span class="badge done" id="run-state">done</span>' in page.content
    assert f"{run.metrics['sharpe_ratio']:.2f}".encode() in page.content
    assert b'class="plotly-graph-div"' in page.content
    assert b"every 2s" not in page.content  # done: no more polling


def test_a_bad_form_says_what_is_wrong_and_starts_nothing(console_as, aaa):
    response = console_as("olga").post("/runs/start/", {**FORM, "parameters": "{fast: 5}"}, follow=True)
    unknown = console_as("olga").post("/runs/start/", {**FORM, "strategy": "nope"}, follow=True)

    assert (
        b"parameters must be a JSON object: Expecting property name enclosed in double quotes"
        in response.content
    )
    assert b"unknown strategy" in unknown.content.lower()
    assert not BacktestRun.objects.exists()


def test_two_runs_side_by_side(console_as, aaa, artifacts, django_capture_on_commit_callbacks):
    client = console_as("olga")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/runs/start/", FORM)
        client.post("/runs/start/", {**FORM, "parameters": '{"fast": 10, "slow": 40}'})
    first, second = BacktestRun.objects.order_by("pk")

    page = client.get(f"/runs/compare/?a={first.pk}&b={second.pk}")

    assert page.status_code == 200
    assert f"{first.metrics['total_return_pct']:.2f}".encode() in page.content
    assert f"{second.metrics['total_return_pct']:.2f}".encode() in page.content
    assert page.content.count(b"equity") >= 2


def test_the_runs_table_refreshes_while_a_run_is_queued(console_as):
    BacktestRun.objects.create(strategy="momentum", symbols=["AAA"], timeframe="1d")
    client = console_as("vera")

    page = client.get("/runs/")
    fragment = client.get("/runs/", headers={"HX-Request": "true"})

    assert b'hx-trigger="every 5s"' in page.content
    assert b"Start a backtest" not in page.content  # a viewer starts nothing
    assert fragment.content.startswith(b'<div id="runs"')
    assert console_as("vera").post("/runs/start/", FORM).status_code == 403
