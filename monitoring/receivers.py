"""Celery's signals monitoring listens to (connected when the app is ready)."""

import structlog
from celery import signals
from django.utils import timezone

log = structlog.get_logger(__name__)


@signals.task_failure.connect
def _task_failed(sender=None, task_id=None, exception=None, args=None, einfo=None, **_) -> None:
    """Every task that raises: a TaskFailure row and an alert. Recording it must never add a
    failure of its own (the database may be what failed)."""
    from monitoring.services import task_failure_record

    name = getattr(sender, "name", None) or str(sender)
    try:
        task_failure_record(
            task=name,
            task_id=task_id or "",
            queue=getattr(sender, "queue", None) or "",
            exception=exception,
            traceback=str(einfo.traceback) if einfo is not None else "",
            args=args,
            now=timezone.now(),
        )
    except Exception:
        log.exception("task failure not recorded", task=name, task_id=task_id)
