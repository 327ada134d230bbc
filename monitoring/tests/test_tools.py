"""The monitoring agent's tools: the latest metrics and the health checks as the API shows them, an
alert raised by an agent, the daily summary made as the schedule makes it."""

import pytest
from django.db import connection

from monitoring.models import Alert, DailySummary
from monitoring.tests.conftest import frozen
from monitoring.tests.test_summary import AFTER_CLOSE, DAY, TEXT, day_of_events  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db


def test_the_metrics_are_the_summary_the_api_shows(as_role, invoke):
    viewer = as_role("viewer")
    Alert.objects.create(severity="warning", source="test", key="k", message="watch")

    everything = invoke(viewer, "collect_metrics").json()["result"]
    alerts = invoke(viewer, "collect_metrics", service_name="open_alerts").json()["result"]

    assert everything == viewer.get("/api/v1/metrics/summary/").json()
    assert alerts == {"open_alerts": {"critical": 0, "warning": 1, "info": 0}}


def test_one_service_or_every_one_is_checked(as_role, invoke):
    viewer = as_role("viewer")

    database = invoke(viewer, "check_service_health", service_name="database").json()["result"]
    unknown = invoke(viewer, "check_service_health", service_name="mainframe")

    assert (database["status"], database["checks"]) == (
        "ok",
        {"database": {"status": "ok", "detail": connection.vendor}},
    )
    assert unknown.status_code == 400
    assert unknown.json()["message"].startswith(
        "check_service_health: invalid arguments: service_name: Input should be "
    )


def test_an_agents_alert_is_raised_once_while_open_and_remembered(as_role, invoke, memory):
    operator = as_role("operator")

    first = invoke(operator, "send_alert", message="AAA feed looks frozen", severity="critical").json()[
        "result"
    ]
    again = invoke(operator, "send_alert", message="AAA feed looks frozen", severity="critical").json()[
        "result"
    ]

    alert = Alert.objects.get()
    assert (alert.source, alert.severity, alert.context, alert.occurrences) == (
        "agent",
        "critical",
        {"by": "the-operator"},
        2,
    )
    assert first == {"alert": alert.pk, "new": True, "severity": "critical", "occurrences": 1}
    assert again == {"alert": alert.pk, "new": False, "severity": "critical", "occurrences": 2}
    assert memory.entries("monitoring")["last_alert"]["value"] == {
        "alert": alert.pk,
        "severity": "critical",
        "new": False,
    }
    assert invoke(as_role("viewer"), "send_alert", message="x").status_code == 403


def test_the_daily_summary_is_the_one_the_schedule_makes(as_role, invoke, day_of_events):  # noqa: F811
    with frozen(AFTER_CLOSE):
        summary = invoke(as_role("operator"), "generate_daily_summary", day=DAY.isoformat()).json()["result"]

    made = TEXT.replace("2 open", "3 open")  # as test_summary's service call makes it
    assert (summary["day"], summary["text"]) == (DAY.isoformat(), made)
    assert DailySummary.objects.get().text == made
