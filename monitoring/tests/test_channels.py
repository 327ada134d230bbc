"""Alert channels: Slack (a local HTTP server stands in for it), a generic webhook and email, chosen
by severity; every attempt recorded; a failing channel keeps the alert, records why, and is tried
again by the schedule."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.checks import Error

from monitoring.checks import channels_known
from monitoring.models import Alert, AlertDelivery
from monitoring.services import alert_raise, deliveries_retry
from monitoring.tests.conftest import frozen, ny

pytestmark = pytest.mark.django_db

RAISED_AT = ny(2024, 1, 8, 10, 30)


def raise_critical(capture):
    with frozen(RAISED_AT), capture(execute=True):
        alert, _ = alert_raise(
            severity="critical",
            source="kill_switch",
            key="global",
            message="kill switch engaged on the platform: runaway orders",
            context={"by": "rita"},
        )
    return alert


def deliveries(alert) -> list[tuple]:
    return list(alert.deliveries.order_by("id").values_list("channel", "ok", "error"))


def slack_text(alert_id: int) -> str:
    return (
        "*[CRITICAL] kill_switch: kill switch engaged on the platform: runaway orders*\n"
        "kill switch engaged on the platform: runaway orders\n"
        "by: rita\n"
        f"alert #{alert_id}, raised 2024-01-08 15:30:00 UTC"
    )


def test_a_new_alert_reaches_slack_once_the_transaction_commits(
    settings, httpserver, django_capture_on_commit_callbacks
):
    settings.SLACK_WEBHOOK_URL = httpserver.url_for("/services/T0/B0/x")
    httpserver.expect_oneshot_request("/services/T0/B0/x", method="POST").respond_with_data("ok")

    alert = raise_critical(django_capture_on_commit_callbacks)

    request, _ = httpserver.log[0]
    assert request.get_json() == {"text": slack_text(alert.pk)}
    assert deliveries(alert) == [("slack", True, "")]
    assert len(httpserver.log) == 1


def test_a_failing_slack_keeps_the_alert_records_why_and_the_schedule_delivers_it_later(
    settings, httpserver, django_capture_on_commit_callbacks
):
    settings.SLACK_WEBHOOK_URL = httpserver.url_for("/slack")
    httpserver.expect_oneshot_request("/slack").respond_with_data("internal_error", status=500)

    alert = raise_critical(django_capture_on_commit_callbacks)

    assert Alert.objects.get(pk=alert.pk).resolved is False
    assert deliveries(alert) == [("slack", False, "HTTP 500: internal_error")]
    httpserver.expect_oneshot_request("/slack").respond_with_data("ok")
    retried = deliveries_retry(now=RAISED_AT + timedelta(minutes=5))
    again = deliveries_retry(now=RAISED_AT + timedelta(minutes=10))

    assert [(d.channel, d.ok) for d in retried] == [("slack", True)]
    assert again == []
    assert deliveries(alert) == [("slack", False, "HTTP 500: internal_error"), ("slack", True, "")]
    assert httpserver.log[1][0].get_json() == {"text": slack_text(alert.pk)}


def test_a_channel_that_keeps_failing_is_tried_up_to_the_limit(
    settings, httpserver, django_capture_on_commit_callbacks
):
    settings.SLACK_WEBHOOK_URL = httpserver.url_for("/slack")
    settings.ALERT_DELIVERY_MAX_ATTEMPTS = 3
    httpserver.expect_request("/slack").respond_with_data("no_service", status=404)

    alert = raise_critical(django_capture_on_commit_callbacks)
    for minutes in (5, 10, 15, 20):
        deliveries_retry(now=RAISED_AT + timedelta(minutes=minutes))

    assert deliveries(alert) == [("slack", False, "HTTP 404: no_service")] * 3


def test_an_unreachable_channel_does_not_stop_the_others(
    settings, httpserver, django_capture_on_commit_callbacks
):
    settings.SLACK_WEBHOOK_URL = "http://127.0.0.1:1/closed"
    settings.ALERT_WEBHOOK_URL = httpserver.url_for("/hook")
    settings.ALERT_EMAILS = ["desk@example.com", "risk@example.com"]
    httpserver.expect_oneshot_request("/hook").respond_with_data("", status=204)

    alert = raise_critical(django_capture_on_commit_callbacks)

    slack, webhook, email = deliveries(alert)
    assert (slack[:2], slack[2].startswith("URLError: ")) == (("slack", False), True)
    assert (webhook, email) == (("webhook", True, ""), ("email", True, ""))
    assert httpserver.log[0][0].get_json() == {
        "title": "[CRITICAL] kill_switch: kill switch engaged on the platform: runaway orders",
        "text": slack_text(alert.pk).split("\n", 1)[1],
        "kind": "alert",
        "id": alert.pk,
        "severity": "critical",
        "source": "kill_switch",
        "key": "global",
        "message": "kill switch engaged on the platform: runaway orders",
        "context": {"by": "rita"},
        "occurrences": 1,
        "created_at": "2024-01-08T15:30:00+00:00",
    }
    (sent,) = mail.outbox
    assert (sent.subject, sent.to, sent.body) == (
        "[CRITICAL] kill_switch: kill switch engaged on the platform: runaway orders",
        ["desk@example.com", "risk@example.com"],
        slack_text(alert.pk).split("\n", 1)[1],
    )


def test_each_severity_goes_to_its_own_channels(settings, httpserver, django_capture_on_commit_callbacks):
    settings.SLACK_WEBHOOK_URL = httpserver.url_for("/slack")
    settings.ALERT_EMAILS = ["desk@example.com"]
    httpserver.expect_request("/slack").respond_with_data("ok")

    with django_capture_on_commit_callbacks(execute=True):
        info, _ = alert_raise(severity="info", source="test", message="fyi")
        warning, _ = alert_raise(severity="warning", source="test", message="careful")

    assert (deliveries(info), deliveries(warning)) == ([], [("slack", True, "")])
    assert mail.outbox == []


def test_an_alert_seen_again_while_open_is_not_sent_again(
    settings, httpserver, django_capture_on_commit_callbacks
):
    settings.SLACK_WEBHOOK_URL = httpserver.url_for("/slack")
    httpserver.expect_request("/slack").respond_with_data("ok")

    first = raise_critical(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        again, new = alert_raise(
            severity="critical",
            source="kill_switch",
            key="global",
            message="engaged again: still running away",
        )

    assert (new, again.pk, again.occurrences, again.message) == (
        False,
        first.pk,
        2,
        "engaged again: still running away",
    )
    assert len(httpserver.log) == 1
    assert AlertDelivery.objects.count() == 1


def test_a_channel_name_that_does_not_exist_fails_the_system_check(settings):
    settings.ALERT_CHANNELS = {"critical": ["slack", "pager"], "fatal": []}
    settings.DAILY_SUMMARY_CHANNELS = ["emial"]

    assert channels_known() == [
        Error(
            "ALERT_CHANNELS names the channel 'pager'; the channels: slack, webhook, email",
            id="monitoring.E001",
        ),
        Error(
            "DAILY_SUMMARY_CHANNELS names the channel 'emial'; the channels: slack, webhook, email",
            id="monitoring.E001",
        ),
        Error(
            "ALERT_CHANNELS has keys ['fatal']: the severities are info, warning, critical",
            id="monitoring.E002",
        ),
    ]
