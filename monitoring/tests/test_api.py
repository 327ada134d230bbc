"""Monitoring API by role (a viewer reads, an operator acknowledges and resolves, anyone else is
refused, nobody unauthenticated but at /healthz), its filters and ordering, /metrics, and a constant
number of queries per endpoint whatever the rows."""

from datetime import timedelta

import pytest

from monitoring.models import Alert, AlertDelivery, DailySummary, MetricSnapshot, SystemSnapshot
from monitoring.services import alert_raise
from monitoring.snapshot_services import metric_snapshots_take
from monitoring.summary_services import daily_summary_create
from monitoring.tests.conftest import frozen, ny

pytestmark = pytest.mark.django_db

RAISED_AT = ny(2024, 1, 8, 10, 30)
ENDPOINTS = [
    "/api/v1/alerts/",
    "/api/v1/alerts/1/",
    "/api/v1/metrics/summary/",
    "/api/v1/metrics/snapshots/",
    "/api/v1/metrics/snapshots/1/",
    "/api/v1/metrics/system/",
    "/api/v1/metrics/system/1/",
    "/api/v1/summaries/",
    "/api/v1/summaries/2024-01-08/",
    "/api/v1/health/",
    "/metrics",
]


def raised(n: int = 1, severity: str = "critical", source: str = "reconciliation") -> list[Alert]:
    alerts = []
    with frozen(RAISED_AT):
        for i in range(n):
            alert, _ = alert_raise(
                severity=severity, source=source, key=f"broker-{i}", message=f"positions differ ({i})"
            )
            AlertDelivery.objects.create(
                alert=alert, channel="slack", ok=False, error="HTTP 500", attempted_at=RAISED_AT
            )
            alerts.append(alert)
    return alerts


@pytest.mark.parametrize("url", ENDPOINTS)
def test_every_endpoint_answers_401_without_credentials(anon, url):
    response = anon.get(url)

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


@pytest.mark.parametrize("url", ["/api/v1/alerts/1/acknowledge/", "/api/v1/alerts/1/resolve/"])
def test_acting_on_an_alert_answers_401_without_credentials(anon, url):
    assert anon.post(url).status_code == 401


def test_healthz_answers_anyone_and_tells_nothing_more(anon):
    response = anon.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    "url", ["/api/v1/alerts/", "/api/v1/metrics/summary/", "/api/v1/health/", "/metrics"]
)
def test_a_user_without_a_role_is_refused(client_as, url):
    response = client_as(None).get(url)

    assert (response.status_code, response.json()["message"]) == (403, "this needs the role viewer")


def test_a_viewer_lists_alerts_with_their_deliveries(client_as):
    (alert,) = raised()

    response = client_as("viewer").get("/api/v1/alerts/")

    assert response.status_code == 200
    assert response.json() == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": alert.pk,
                "severity": "critical",
                "source": "reconciliation",
                "key": "broker-0",
                "message": "positions differ (0)",
                "context": {},
                "occurrences": 1,
                "created_at": "2024-01-08T15:30:00Z",
                "last_seen_at": "2024-01-08T15:30:00Z",
                "acknowledged_by": None,
                "acknowledged_at": None,
                "resolved": False,
                "resolved_by": None,
                "resolved_at": None,
                "deliveries": [
                    {
                        "channel": "slack",
                        "ok": False,
                        "error": "HTTP 500",
                        "attempted_at": "2024-01-08T15:30:00Z",
                    }
                ],
            }
        ],
    }


def test_alerts_are_filtered_and_ordered(client_as):
    raised(2, severity="critical")
    with frozen(RAISED_AT + timedelta(hours=1)):
        alert_raise(severity="warning", source="data_freshness", key="1d", message="stale")
        alert_raise(severity="info", source="test", message="fyi")
    viewer = client_as("viewer")

    def keys(query: str) -> list[str]:
        response = viewer.get(f"/api/v1/alerts/?{query}")
        assert response.status_code == 200, response.json()
        return [a["key"] for a in response.json()["results"]]

    assert keys("") == ["fyi", "1d", "broker-1", "broker-0"]
    assert keys("severity=critical&severity=warning&ordering=created_at") == ["broker-0", "broker-1", "1d"]
    assert keys("source=data_freshness") == ["1d"]
    assert keys("created_after=2024-01-08T16:00:00Z") == ["fyi", "1d"]
    assert keys("resolved=false&acknowledged=false&created_before=2024-01-08T16:00:00Z") == [
        "broker-1",
        "broker-0",
    ]
    bad = viewer.get("/api/v1/alerts/?severity=fatal")
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_input")


def test_a_viewer_may_not_acknowledge_an_operator_acknowledges_then_resolves(client_as):
    (alert,) = raised()
    viewer, operator = client_as("viewer"), client_as("operator")

    refused = viewer.post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    acknowledged = operator.post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    again = operator.post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    resolved = operator.post(f"/api/v1/alerts/{alert.pk}/resolve/")
    missing = operator.post("/api/v1/alerts/999/resolve/")

    assert (refused.status_code, refused.json()["message"]) == (403, "this needs the role operator")
    assert acknowledged.status_code == 200
    assert (acknowledged.json()["acknowledged_by"], acknowledged.json()["resolved"]) == (
        "operator-user",
        False,
    )
    assert (again.status_code, again.json()) == (
        409,
        {"error": "conflict", "message": f"alert #{alert.pk} was acknowledged already", "details": {}},
    )
    assert resolved.status_code == 200
    assert (resolved.json()["resolved"], resolved.json()["resolved_by"]) == (True, "operator-user")
    assert missing.status_code == 404
    assert viewer.get(f"/api/v1/alerts/{alert.pk}/").json()["resolved"] is True


def test_a_risk_officer_may_resolve_too(client_as):
    (alert,) = raised()

    assert client_as("risk_officer").post(f"/api/v1/alerts/{alert.pk}/resolve/").status_code == 200


def test_the_metrics_summary_has_the_latest_snapshot_of_each_scope_and_the_open_alerts(portfolio, client_as):
    metric_snapshots_take(now=ny(2024, 1, 8, 10))
    metric_snapshots_take(now=ny(2024, 1, 8, 17))
    SystemSnapshot.objects.create(taken_at=ny(2024, 1, 8, 17), status="ok", task_failures=2)
    raised(2)

    body = client_as("viewer").get("/api/v1/metrics/summary/").json()

    (account,) = body["accounts"]
    (strategy,) = body["strategies"]
    assert (account["label"], account["equity"], account["pnl_day"], account["taken_at"]) == (
        "account",
        "10016.00",
        "18.00",
        "2024-01-08T22:00:00Z",
    )
    assert (strategy["strategy_version"], strategy["pnl_total"], strategy["win_rate"]) == (
        portfolio.pk,
        "16.00",
        100.0,
    )
    assert (body["system"]["status"], body["system"]["task_failures"]) == ("ok", 2)
    assert body["open_alerts"] == {"critical": 2, "warning": 0, "info": 0}


def test_snapshots_are_filtered_by_scope_and_time(portfolio, client_as):
    metric_snapshots_take(now=ny(2024, 1, 8, 10))
    metric_snapshots_take(now=ny(2024, 1, 8, 17))
    viewer = client_as("viewer")

    strategy = viewer.get(f"/api/v1/metrics/snapshots/?scope=strategy&strategy_version={portfolio.pk}").json()
    late = viewer.get("/api/v1/metrics/snapshots/?taken_after=2024-01-08T20:00:00Z&ordering=equity").json()

    assert [(s["taken_at"], s["equity"]) for s in strategy["results"]] == [
        ("2024-01-08T22:00:00Z", "10016.00"),
        ("2024-01-08T15:00:00Z", "9998.00"),
    ]
    assert [s["scope"] for s in late["results"]] == ["account", "strategy"]


def test_a_daily_summary_is_read_by_its_day(portfolio, client_as):
    daily_summary_create(day=ny(2024, 1, 8).date(), now=ny(2024, 1, 8, 18, 30))
    viewer = client_as("viewer")

    day = viewer.get("/api/v1/summaries/2024-01-08/")
    listed = viewer.get("/api/v1/summaries/?day_from=2024-01-08&day_to=2024-01-08")

    assert day.status_code == 200
    assert day.json()["totals"] == {
        "paper": {
            "pnl": "18.00",
            "pnl_total": "16.00",
            "equity": "10016.00",
            "trades": 2,
            "notional": "2070.00",
        }
    }
    assert [s["day"] for s in listed.json()["results"]] == ["2024-01-08"]
    assert viewer.get("/api/v1/summaries/2024-01-09/").status_code == 404


def test_prometheus_metrics_need_a_viewer_and_carry_the_gauges(portfolio, client_as, anon):
    metric_snapshots_take(now=ny(2024, 1, 8, 17))
    SystemSnapshot.objects.create(
        taken_at=ny(2024, 1, 8, 17),
        status="degraded",
        health={"database": {"status": "ok", "detail": "sqlite"}, "beat": {"status": "down", "detail": "x"}},
        data_staleness={"synthetic": {"last_success": None, "age_seconds": 86400.0, "last_status": "failed"}},
        brokers={
            "alpaca:paper": {"status": "ok", "detail": "", "latency_ms": 120.0, "error_rate": 0.25},
            "ib:paper": {"status": "ok", "detail": "not configured", "latency_ms": None, "error_rate": None},
        },
        queues={"backtests": 4},
        workers={"celery@a": {"last_seen_at": "2024-01-08T21:59:00+00:00", "age_seconds": 60.0}},
        task_failures=3,
    )
    raised(1)

    response = client_as("viewer").get("/metrics")

    assert anon.get("/metrics").status_code == 401
    assert (response.status_code, response["Content-Type"]) == (
        200,
        "text/plain; version=1.0.0; charset=utf-8",
    )
    lines = set(response.content.decode().splitlines())
    assert {
        'quant_equity{mode="paper",scope="account",strategy=""} 10016.0',
        'quant_equity{mode="paper",scope="strategy",strategy="watched v1"} 10016.0',
        'quant_pnl_day{mode="paper",scope="strategy",strategy="watched v1"} 18.0',
        'quant_pnl_total{mode="paper",scope="account",strategy=""} 16.0',
        'quant_win_rate_pct{mode="paper",scope="strategy",strategy="watched v1"} 100.0',
        'quant_positions{mode="paper",scope="strategy",strategy="watched v1"} 2.0',
        'quant_health{check="beat",quant_health="down"} 1.0',
        'quant_health{check="database",quant_health="ok"} 1.0',
        'quant_data_staleness_seconds{provider="synthetic"} 86400.0',
        'quant_broker_latency_seconds{broker="alpaca:paper"} 0.12',
        'quant_broker_error_rate{broker="alpaca:paper"} 0.25',
        'quant_broker_up{broker="alpaca:paper"} 1.0',
        'quant_celery_queue_depth{queue="backtests"} 4.0',
        'quant_celery_worker_heartbeat_age_seconds{worker="celery@a"} 60.0',
        "quant_task_failures_24h 3.0",
        'quant_alerts_open{severity="critical"} 1.0',
        'quant_alerts_open{severity="warning"} 0.0',
    } <= lines
    assert not any('broker="ib:paper"' in line for line in lines)  # not configured
    assert not any(line.startswith("quant_sharpe{") for line in lines)  # one day: no ratio yet


# --- a constant number of queries per endpoint ---------------------------------------------------------


def alerts_rows(n: int) -> None:
    raised(n)


def snapshot_rows(n: int) -> None:
    from execution.services import account_open
    from strategies.core.config import StrategyConfig
    from strategies.lifecycle_services import strategy_version_create

    for i in range(n):
        config = StrategyConfig(strategy="momentum", name=f"s{i}", universe=["AAA"])
        account_open(
            version=strategy_version_create(config=config, created_by=None),
            mode="paper",
            broker="simulated",
            capital=1000,
        )
    metric_snapshots_take(now=ny(2024, 1, 8, 17))


def system_rows(n: int) -> None:
    for i in range(n):
        SystemSnapshot.objects.create(taken_at=ny(2024, 1, 8, 17) - timedelta(minutes=5 * i), status="ok")


def summary_rows(n: int) -> None:
    first = DailySummary.objects.count()
    for i in range(first, first + n):
        DailySummary.objects.create(
            day=ny(2024, 1, 1).date() + timedelta(days=i),
            created_at=ny(2024, 1, 8),
            alerts={"raised": 0, "by_severity": {}, "by_source": {}, "open": 0},
            risk_events={"total": 0, "by_action": {}},
            text="Daily summary",
        )


def all_rows(n: int) -> None:
    alerts_rows(n)
    snapshot_rows(n)
    system_rows(n)


@pytest.mark.parametrize(
    ("url", "rows", "queries"),
    [
        ("/api/v1/alerts/", alerts_rows, 4),  # role, count, page, deliveries
        ("/api/v1/metrics/snapshots/", snapshot_rows, 3),  # role, count, page
        ("/api/v1/metrics/system/", system_rows, 3),
        ("/api/v1/summaries/", summary_rows, 4),  # role, count, page, deliveries
        ("/api/v1/metrics/summary/", all_rows, 4),  # role, latest snapshots, system, open alerts
        ("/metrics", all_rows, 4),  # role, latest snapshots, system, open alerts
    ],
)
def test_each_list_takes_the_same_queries_for_one_row_and_for_many(
    url, rows, queries, client_as, django_assert_num_queries
):
    viewer = client_as("viewer")
    rows(1)
    with django_assert_num_queries(queries):
        assert viewer.get(url).status_code == 200
    rows(7)
    with django_assert_num_queries(queries):
        assert viewer.get(url).status_code == 200


def test_acting_on_an_alert_takes_the_same_queries_whatever_its_deliveries(
    client_as, django_assert_num_queries
):
    first, second = raised(2)
    for _ in range(5):
        AlertDelivery.objects.create(alert=second, channel="email", ok=True, attempted_at=RAISED_AT)
    operator = client_as("operator")

    # role, alert, role again (the service's), save, audit record, the alert read back, its deliveries
    with django_assert_num_queries(7) as one:
        operator.post(f"/api/v1/alerts/{first.pk}/acknowledge/")
    with django_assert_num_queries(len(one.captured_queries)):
        operator.post(f"/api/v1/alerts/{second.pk}/acknowledge/")


def test_metric_snapshots_of_many_accounts_have_their_own_rows(client_as):
    snapshot_rows(3)

    assert MetricSnapshot.objects.filter(scope="strategy").count() == 3
    assert client_as("viewer").get("/api/v1/metrics/snapshots/?scope=account").json()["count"] == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("resolved=null", "resolved: is true or false, not 'null'"),
        ("created_before=", "created_before: may not be empty when given"),
        ("source=", "source: may not be empty when given"),
    ],
)
def test_a_filter_value_that_means_nothing_is_refused_not_ignored(client_as, query, message):
    response = client_as("viewer").get(f"/api/v1/alerts/?{query}")

    assert (response.status_code, response.json()["message"]) == (400, message)


def test_an_id_outside_the_database_integers_is_refused_and_a_bad_path_is_a_json_404(client_as):
    viewer = client_as("viewer")

    huge = viewer.get("/api/v1/metrics/snapshots/?strategy_version=1e200")
    assert (huge.status_code, huge.json()["error"]) == (400, "invalid_input")
    for url in ["/api/v1/alerts/0.5/", "/api/v1/metrics/system/x/", "/api/v1/summaries/2024-13-45/"]:
        response = viewer.get(url)
        assert (response.status_code, response["Content-Type"], response.json()["error"]) == (
            404,
            "application/json",
            "not_found",
        )
    assert client_as("operator").post("/api/v1/alerts/null/resolve/").status_code == 404


@pytest.mark.parametrize("query", ["page=1&page=2", "source=a&source=b"])
def test_a_parameter_given_twice_is_refused(client_as, query):
    response = client_as("viewer").get(f"/api/v1/alerts/?{query}")

    assert (response.status_code, response.json()["message"].split(": ")[1]) == (400, "is given once at most")
