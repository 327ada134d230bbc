"""The monitoring agent's tools: the latest metrics, the health checks, raising an alert, the daily
summary. Through the same selectors, services and serializers as the monitoring API."""

from datetime import date
from typing import Annotated, Literal

from django.utils import timezone
from pydantic import Field

from agents.memory import remember
from agents.registry import tool
from monitoring.account_selectors import trading_day
from monitoring.api import DailySummarySerializer, MetricsSummarySerializer
from monitoring.selectors import CHECKS, health_get, metrics_summary_get
from monitoring.services import alert_raise
from monitoring.summary_services import daily_summary_create
from quantsite.roles import OPERATOR, VIEWER

Service = Literal[tuple(CHECKS)]


@tool(agent="monitoring", role=VIEWER)
def collect_metrics(
    actor, service_name: Literal["accounts", "strategies", "system", "open_alerts"] | None = None
) -> dict:
    """The latest metric snapshots, as GET /api/v1/metrics/summary/ shows them: each mode's accounts
    (equity, P&L, drawdown, exposure, Sharpe...), each strategy version, the system (queues, workers,
    brokers, data staleness) and the open alerts by severity; one part of it with service_name."""
    summary = MetricsSummarySerializer(metrics_summary_get()).data
    return dict(summary) if service_name is None else {service_name: summary[service_name]}


@tool(agent="monitoring", role=VIEWER)
def check_service_health(actor, service_name: Service | None = None) -> dict:
    """The health checks, as GET /api/v1/health/ runs them (database, redis, celery workers, beat,
    brokers, data freshness; one of them with service_name): each ok, degraded or down with its
    detail, and the verdict."""
    return health_get(now=timezone.now(), only=service_name)


@tool(agent="monitoring", role=OPERATOR)
def send_alert(
    actor,
    message: Annotated[str, Field(min_length=1, max_length=2000)],
    severity: Literal["info", "warning", "critical"] = "warning",
    key: Annotated[str, Field(max_length=200, description="what it is about (default: the message)")] = "",
) -> dict:
    """Raise an alert (source "agent"), delivered to the channels of its severity (ALERT_CHANNELS:
    Slack, a webhook, email). An alert of the same key still open is not raised twice: it is seen once
    more (new false)."""
    alert, new = alert_raise(
        severity=severity, source="agent", message=message, key=key, context={"by": actor.get_username()}
    )
    remember("monitoring", "last_alert", {"alert": alert.pk, "severity": severity, "new": new})
    return {"alert": alert.pk, "new": new, "severity": alert.severity, "occurrences": alert.occurrences}


@tool(agent="monitoring", role=OPERATOR)
def generate_daily_summary(
    actor, day: Annotated[date | None, Field(description="a New York day (default: today)")] = None
) -> dict:
    """Make (or make again) the daily summary of a New York day, as the schedule does after the close:
    each mode's and strategy version's P&L, equity, trades and notional, the alerts and risk events of
    the day, and its text. It is not sent (the schedule sends it)."""
    now = timezone.now()
    summary = daily_summary_create(day=day or trading_day(now), now=now)
    return DailySummarySerializer(summary).data
