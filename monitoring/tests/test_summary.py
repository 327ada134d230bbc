"""The daily summary after the close: per strategy and in total, P&L, trades, alerts and risk events
of the New York day; kept, and sent through the channels (a failed one tried again)."""

from datetime import timedelta

import pytest

from monitoring.models import DailySummary
from monitoring.services import alert_raise, deliveries_retry
from monitoring.summary_services import daily_summary_create, daily_summary_send
from monitoring.tasks import daily_summary_task
from monitoring.tests.conftest import frozen, ny
from quantsite.audit import audit
from risk.core.state import TradingState
from risk.services import scope_of, trading_state_set

pytestmark = pytest.mark.django_db

DAY = ny(2024, 1, 8).date()
AFTER_CLOSE = ny(2024, 1, 8, 18, 30)

TEXT = (
    "Daily summary 2024-01-08 (New York)\n"
    "paper: P&L +18.00 (total +16.00, equity 10016.00), 2 trades, 2070.00 traded\n"
    "  watched v1: P&L +18.00, 2 trades, 1 alert, 3 risk events\n"
    "alerts: 2 raised (1 critical, 1 warning), 2 open\n"
    "risk events: 3 (order.refused 2, trading_state.set 1)"
)


@pytest.fixture
def day_of_events(portfolio):
    """Monday's alerts and risk events, and some of the days around it."""
    with frozen(ny(2024, 1, 5, 12)):  # the Friday before
        alert_raise(severity="info", source="test", message="friday")
        audit(actor=None, action="order.refused", subject=portfolio, summary="friday", codes=[])
    with frozen(ny(2024, 1, 8, 9, 45)):
        alert_raise(
            severity="critical",
            source="circuit_breaker",
            key=f"version:{portfolio.pk}:paper:daily_loss",
            message="watched v1 (paper) is REDUCING",
            context={"version": portfolio.pk},
        )
        alert_raise(severity="warning", source="data_freshness", key="1d", message="BBB stale")
        for _ in range(2):
            audit(actor=None, action="order.refused", subject=portfolio, summary="buy 10 AAA", codes=["x"])
        trading_state_set(scope=scope_of(portfolio), state=TradingState.REDUCING, reason="paused: test")
        audit(actor=None, action="order.create", subject=portfolio, summary="not a risk event")
    return portfolio


def test_the_summary_of_a_day_per_strategy_and_in_total(day_of_events):
    summary = daily_summary_create(day=DAY, now=AFTER_CLOSE)

    assert summary.totals == {
        "paper": {
            "pnl": "18.00",
            "pnl_total": "16.00",
            "equity": "10016.00",
            "trades": 2,
            "notional": "2070.00",
        }
    }
    assert summary.strategies == [
        {
            "strategy_version": day_of_events.pk,
            "label": "watched v1",
            "mode": "paper",
            "pnl": "18.00",
            "pnl_total": "16.00",
            "equity": "10016.00",
            "trades": 2,
            "notional": "2070.00",
            "alerts": 1,
            "risk_events": 3,
        }
    ]
    assert summary.alerts == {
        "raised": 2,
        "by_severity": {"critical": 1, "warning": 1},
        "by_source": {"circuit_breaker": 1, "data_freshness": 1},
        "open": 3,
    }
    assert summary.risk_events == {"total": 3, "by_action": {"order.refused": 2, "trading_state.set": 1}}
    assert summary.text == TEXT.replace("2 open", "3 open")


def test_a_summary_made_again_replaces_the_day_s_row(day_of_events):
    first = daily_summary_create(day=DAY, now=ny(2024, 1, 8, 12, 30))  # before Monday's close
    again = daily_summary_create(day=DAY, now=AFTER_CLOSE)

    assert (again.pk, DailySummary.objects.count()) == (first.pk, 1)
    # at 12:30, marked at Friday's closes: sold 10 AAA at 104 (+20 on 102), bought 10 at 103 (-10),
    # two commissions (-2)
    assert (first.totals["paper"]["pnl"], again.totals["paper"]["pnl"]) == ("8.00", "18.00")


def test_the_summary_goes_through_the_channels_and_a_failed_one_is_tried_again(
    day_of_events, settings, httpserver
):
    settings.SLACK_WEBHOOK_URL = httpserver.url_for("/slack")
    settings.ALERT_WEBHOOK_URL = httpserver.url_for("/hook")
    httpserver.expect_oneshot_request("/slack").respond_with_data("ok")
    httpserver.expect_oneshot_request("/hook").respond_with_data("down", status=502)
    summary = daily_summary_create(day=DAY, now=AFTER_CLOSE)

    sent = daily_summary_send(summary=summary, now=AFTER_CLOSE)
    httpserver.expect_oneshot_request("/hook").respond_with_data("", status=204)
    retried = deliveries_retry(now=AFTER_CLOSE + timedelta(minutes=5))

    assert [(d.channel, d.ok, d.error) for d in sent] == [
        ("slack", True, ""),
        ("webhook", False, "HTTP 502: down"),
    ]
    assert [(d.channel, d.ok) for d in retried] == [("webhook", True)]
    slack, hook = (request.get_json() for request, _ in httpserver.log[:2])
    assert slack == {"text": f"*Daily summary 2024-01-08*\n{summary.text}"}
    assert (hook["kind"], hook["day"], hook["totals"], hook["risk_events"]["total"]) == (
        "daily_summary",
        "2024-01-08",
        summary.totals,
        3,
    )


def test_the_scheduled_task_summarises_the_new_york_day_once(day_of_events, settings, httpserver):
    settings.SLACK_WEBHOOK_URL = httpserver.url_for("/slack")
    httpserver.expect_request("/slack").respond_with_data("ok")

    with frozen(ny(2024, 1, 8, 18, 30)):  # 23:30 UTC
        first = daily_summary_task.delay().get()
    with frozen(ny(2024, 1, 8, 19, 0)):
        again = daily_summary_task.delay().get()

    summary = DailySummary.objects.get()
    assert (first, again, summary.day) == (summary.pk, summary.pk, DAY)
    assert list(summary.deliveries.values_list("channel", "ok")) == [("slack", True)]
    assert len(httpserver.log) == 1  # reached already: not sent twice
