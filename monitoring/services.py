"""Alerts: raised once while open (deduplicated by source and key), delivered after commit to the
channels of their severity (each attempt recorded, a failed channel tried again by the schedule),
acknowledged and resolved by people, each step in the audit trail. And what raises them from
monitoring's side: task failures, the risk manager refusing too often, a trading session's
circuit breakers."""

import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils import timezone

from marketdata.core.errors import Conflict, InvalidInput
from monitoring.channels import Channel, ChannelError, Message, channel_get, channels_for_severity
from monitoring.models import Alert, AlertDelivery, DeliveryAttempt, SummaryDelivery, TaskFailure
from quantsite.audit import audit
from quantsite.models import AuditRecord
from quantsite.roles import OPERATOR, role_require
from risk.core.state import TradingState
from strategies.models import StrategyVersion

log = structlog.get_logger(__name__)


def alert_raise(
    *, severity: str, source: str, message: str, key: str = "", context: dict[str, Any] | None = None
) -> tuple[Alert, bool]:
    """The open alert of (source, key), raised now or (when one is open) seen once more, with the
    latest message and context: the alert and whether it is new. key defaults to the message. A new
    alert is delivered to the channels of its severity once the transaction commits."""
    if severity not in Alert.Severity.values:
        raise InvalidInput(
            f"an alert's severity is one of {', '.join(Alert.Severity.values)}, not {severity!r}"
        )
    key = (key or message)[:200]
    context = _json_safe(context or {})
    now = timezone.now()
    seen = {"occurrences": F("occurrences") + 1, "last_seen_at": now, "message": message, "context": context}
    if not Alert.objects.filter(source=source, key=key, resolved=False).update(**seen):
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    severity=severity, source=source, key=key, message=message, context=context
                )
        except IntegrityError:  # raised by another process meanwhile: seen once more
            Alert.objects.filter(source=source, key=key, resolved=False).update(**seen)
        else:
            audit(actor=None, action="alert.raise", subject=alert, summary=str(alert))
            log.warning("alert raised", severity=severity, source=source, key=key, message=message)
            transaction.on_commit(lambda: _deliver_later(alert.pk))
            return alert, True
    return Alert.objects.get(source=source, key=key, resolved=False), False


def _deliver_later(alert_id: int) -> None:
    from monitoring.tasks import alert_deliver_task  # the tasks module imports this one

    alert_deliver_task.delay(alert_id)


def alert_acknowledge(*, alert: Alert, by) -> Alert:
    """Someone is looking at it (an operator's act)."""
    role_require(by, OPERATOR, "acknowledge an alert")
    if alert.acknowledged_at is not None:
        raise Conflict(f"alert #{alert.pk} was acknowledged already")
    alert.acknowledged_by, alert.acknowledged_at = by, timezone.now()
    alert.save(update_fields=["acknowledged_by", "acknowledged_at"])
    audit(actor=by, action="alert.acknowledge", subject=alert, summary=str(alert))
    return alert


def alert_resolve(*, alert: Alert, by) -> Alert:
    """It is over: the next one of its source and key is a new alert."""
    role_require(by, OPERATOR, "resolve an alert")
    if alert.resolved:
        raise Conflict(f"alert #{alert.pk} was resolved already")
    alert.resolved, alert.resolved_by, alert.resolved_at = True, by, timezone.now()
    alert.save(update_fields=["resolved", "resolved_by", "resolved_at"])
    audit(actor=by, action="alert.resolve", subject=alert, summary=str(alert))
    return alert


# --- delivery ---------------------------------------------------------------------------------------


def alert_message(alert: Alert) -> Message:
    lines = [alert.message, *(f"{name}: {value}" for name, value in alert.context.items())]
    lines.append(f"alert #{alert.pk}, raised {alert.created_at:%Y-%m-%d %H:%M:%S} UTC")
    first = alert.message.splitlines()[0] if alert.message else ""
    return Message(
        title=f"[{alert.severity.upper()}] {alert.source}: {first[:150]}",
        text="\n".join(lines),
        payload={
            "kind": "alert",
            "id": alert.pk,
            "severity": alert.severity,
            "source": alert.source,
            "key": alert.key,
            "message": alert.message,
            "context": alert.context,
            "occurrences": alert.occurrences,
            "created_at": alert.created_at.isoformat(),
        },
    )


def deliveries_attempt(
    *, message: Message, channels: list[Channel], deliveries, now: datetime
) -> list[DeliveryAttempt]:
    """Send message through each channel it has not reached yet; every attempt becomes a row of
    deliveries (an alert's or a summary's related manager). A failing channel never stops the others."""
    reached = set(deliveries.filter(ok=True).values_list("channel", flat=True))
    attempts = []
    for channel in (c for c in channels if c.name not in reached):
        try:
            channel.send(message)
        except ChannelError as exc:
            log.warning("channel failed", channel=channel.name, title=message.title, error=exc.message)
            attempts.append(
                deliveries.create(channel=channel.name, ok=False, error=exc.message, attempted_at=now)
            )
        else:
            attempts.append(deliveries.create(channel=channel.name, ok=True, attempted_at=now))
    return attempts


def alert_deliver(*, alert: Alert, now: datetime) -> list[AlertDelivery]:
    """Send the alert to the configured channels of its severity it has not reached yet."""
    return deliveries_attempt(
        message=alert_message(alert),
        channels=channels_for_severity(alert.severity),
        deliveries=alert.deliveries,
        now=now,
    )


def deliveries_retry(*, now: datetime) -> list[DeliveryAttempt]:
    """Try each channel again that failed for an alert or a summary in the last day and has not
    succeeded since, up to ALERT_DELIVERY_MAX_ATTEMPTS attempts in all."""
    from monitoring.summary_services import summary_message  # it imports this module

    attempts: list[DeliveryAttempt] = []
    for model, owner_field, message_of in [
        (AlertDelivery, "alert", alert_message),
        (SummaryDelivery, "summary", summary_message),
    ]:
        tried: dict[tuple[int, str], list[bool]] = defaultdict(list)
        recent = model.objects.filter(attempted_at__gte=now - timedelta(days=1))
        for owner_id, channel, ok in recent.values_list(f"{owner_field}_id", "channel", "ok"):
            tried[(owner_id, channel)].append(ok)
        pending = [
            pair
            for pair, results in tried.items()
            if not any(results) and len(results) < settings.ALERT_DELIVERY_MAX_ATTEMPTS
        ]
        owners = model._meta.get_field(owner_field).related_model.objects.in_bulk({o for o, _ in pending})
        for owner_id, name in sorted(pending):
            channel = channel_get(name)
            if channel.configured():
                owner = owners[owner_id]
                attempts += deliveries_attempt(
                    message=message_of(owner), channels=[channel], deliveries=owner.deliveries, now=now
                )
    return attempts


# --- what raises alerts -------------------------------------------------------------------------------

# Queues whose failed tasks are critical: a trading session that dies stops trading.
CRITICAL_QUEUES = {"execution"}


def task_failure_record(
    *, task: str, task_id: str, queue: str, exception: BaseException, traceback: str, args: Any, now: datetime
) -> TaskFailure:
    """A Celery task raised: kept as a row, and an alert per task name (open until resolved)."""
    message = f"{type(exception).__name__}: {exception}"
    failure = TaskFailure.objects.create(
        task=task,
        task_id=task_id or "",
        queue=queue or "",
        exception=type(exception).__name__[:200],
        message=str(exception),
        traceback=(traceback or "")[-10_000:],
        args=_json_safe(list(args or [])),
        failed_at=now,
    )
    alert_raise(
        severity=Alert.Severity.CRITICAL if queue in CRITICAL_QUEUES else Alert.Severity.WARNING,
        source="task",
        key=task,
        message=f"task {task} failed: {message}",
        context={"task_id": task_id, "queue": queue, "failure": failure.pk},
    )
    return failure


def risk_refusals_check(*, now: datetime) -> list[Alert]:
    """Strategy versions whose orders the risk manager refused RISK_REFUSALS_ALERT times or more
    within the last RISK_REFUSALS_WINDOW_MINUTES (the audit trail's "order.refused"): an alert each."""
    minutes, threshold = settings.RISK_REFUSALS_WINDOW_MINUTES, settings.RISK_REFUSALS_ALERT
    window = AuditRecord.objects.filter(
        action="order.refused",
        subject_type="strategyversion",
        ts__gt=now - timedelta(minutes=minutes),
        ts__lte=now,
    )
    counts = dict(
        window.values("subject_id")
        .annotate(refused=Count("id"))
        .filter(refused__gte=threshold)
        .values_list("subject_id", "refused")
    )
    if not counts:
        return []
    codes: dict[str, Counter] = defaultdict(Counter)
    for subject_id, data in window.filter(subject_id__in=counts).values_list("subject_id", "data"):
        codes[subject_id].update(data.get("codes", []))
    versions = StrategyVersion.objects.in_bulk([int(s) for s in counts])
    alerts = []
    for subject_id, refused in sorted(counts.items()):
        version = versions.get(int(subject_id))
        label = f"{version.name} v{version.version}" if version else f"strategy version #{subject_id}"
        common = ", ".join(f"{code} {n}" for code, n in codes[subject_id].most_common(3))
        alert, _ = alert_raise(
            severity=Alert.Severity.WARNING,
            source="risk_refusals",
            key=f"version:{subject_id}",
            message=f"{refused} orders of {label} refused by the risk manager in the last {minutes} "
            f"minutes (alert at {threshold}): {common}",
            context={"version": int(subject_id), "refused": refused, "window_minutes": minutes},
        )
        alerts.append(alert)
    return alerts


def breakers_alert(
    *, version: StrategyVersion, mode: str, before: TradingState, after: TradingState, reason: str
) -> Alert | None:
    """A trading session's own circuit breakers moved: the drawdown kill switch (HALTED, critical)
    or the daily loss limit (REDUCING, a warning) tripped. None when they did not trip."""
    if after.severity <= before.severity:
        return None
    halted = after == TradingState.HALTED
    alert, _ = alert_raise(
        severity=Alert.Severity.CRITICAL if halted else Alert.Severity.WARNING,
        source="circuit_breaker",
        key=f"version:{version.pk}:{mode}:{'drawdown' if halted else 'daily_loss'}",
        message=f"{version.name} v{version.version} ({mode}) is {after.value.upper()}: {reason}",
        context={"version": version.pk, "mode": mode, "state": after.value},
    )
    return alert


def metrics_after_fills(*, mode: str) -> bool:
    """A trading session's bar had fills: a snapshot of its mode's accounts after commit, at most
    once per METRICS_AFTER_FILLS_SECONDS (whichever session asks first). Whether one was asked."""
    seconds = settings.METRICS_AFTER_FILLS_SECONDS
    if seconds > 0 and not cache.add(f"monitoring:after-fills:{mode}", 1, timeout=seconds):
        return False
    from monitoring.tasks import metric_snapshots_take_task  # the tasks module imports this one

    transaction.on_commit(lambda: metric_snapshots_take_task.delay(mode))
    return True


def _json_safe(value: Any) -> Any:
    """value as plain JSON (anything else as its repr)."""
    return json.loads(json.dumps(value, default=repr))
