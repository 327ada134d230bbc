"""Alerts: raised once while open (deduplicated by source and key), acknowledged and resolved by
people, each step in the audit trail."""

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from marketdata.core.errors import Conflict, InvalidInput
from monitoring.models import Alert
from quantsite.audit import audit
from quantsite.roles import OPERATOR, role_require


def alert_raise(
    *, severity: str, source: str, message: str, key: str = "", context: dict[str, Any] | None = None
) -> tuple[Alert, bool]:
    """The open alert of (source, key), raised now or (when one is open) seen once more: the alert
    and whether it is new. key defaults to the message."""
    if severity not in Alert.Severity.values:
        raise InvalidInput(
            f"an alert's severity is one of {', '.join(Alert.Severity.values)}, not {severity!r}"
        )
    key = (key or message)[:200]
    now = timezone.now()
    seen = Alert.objects.filter(source=source, key=key, resolved=False).update(
        occurrences=F("occurrences") + 1, last_seen_at=now
    )
    if not seen:
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    severity=severity, source=source, key=key, message=message, context=context or {}
                )
        except IntegrityError:  # raised by another process meanwhile: seen once more
            Alert.objects.filter(source=source, key=key, resolved=False).update(
                occurrences=F("occurrences") + 1, last_seen_at=now
            )
        else:
            audit(actor=None, action="alert.raise", subject=alert, summary=str(alert))
            return alert, True
    return Alert.objects.get(source=source, key=key, resolved=False), False


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
