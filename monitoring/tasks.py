"""Celery tasks of monitoring (queue monitoring): thin doors into its services, on the schedules of
quantsite/schedules.py."""

from datetime import date

from celery import shared_task
from django.utils import timezone

from monitoring.account_selectors import trading_day
from monitoring.models import Alert, DailySummary
from monitoring.services import alert_deliver, deliveries_retry, risk_refusals_check
from monitoring.snapshot_services import metric_snapshots_take, snapshots_prune, system_snapshot_take
from monitoring.summary_services import daily_summary_create, daily_summary_send


@shared_task(queue="monitoring")
def alert_deliver_task(alert_id: int) -> list[str]:
    """A new alert to its channels (each once: a channel reached already is not sent again)."""
    alert = Alert.objects.get(pk=alert_id)
    return [
        f"{d.channel}: {'ok' if d.ok else d.error}" for d in alert_deliver(alert=alert, now=timezone.now())
    ]


@shared_task(queue="monitoring")
def deliveries_retry_task() -> int:
    return len(deliveries_retry(now=timezone.now()))


@shared_task(queue="monitoring")
def metric_snapshots_take_task(mode: str | None = None) -> int:
    return len(metric_snapshots_take(now=timezone.now(), mode=mode))


@shared_task(queue="monitoring")
def system_snapshot_take_task() -> str:
    return system_snapshot_take(now=timezone.now()).status


@shared_task(queue="monitoring")
def risk_refusals_check_task() -> list[int]:
    return [alert.pk for alert in risk_refusals_check(now=timezone.now())]


@shared_task(queue="monitoring")
def snapshots_prune_task() -> dict[str, int]:
    return snapshots_prune(now=timezone.now())


@shared_task(queue="monitoring", acks_late=True)
def daily_summary_task(day: str | None = None) -> int:
    """After the close: the day's summary, made once, and sent to the channels it has not reached."""
    now = timezone.now()
    when = date.fromisoformat(day) if day else trading_day(now)
    summary = DailySummary.objects.filter(day=when).first() or daily_summary_create(day=when, now=now)
    daily_summary_send(summary=summary, now=now)
    return summary.pk
