"""How every recorded run (ingestion, backtest, ...) starts and ends, in one place."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog
from django.utils import timezone

from marketdata.core.errors import ApplicationError

log = structlog.get_logger(__name__)


@contextmanager
def run_recorded(
    run, *, running: str, failed: str, event: str, summary: Callable[[], dict]
) -> Iterator[None]:
    """Mark the run running and saved; however the block ends, record the finish time and duration
    and log `event` with summary(). A failure is kept on the run (its message, the failed status)
    and raised again: nothing fails silently, and no failure is lost."""
    started = time.perf_counter()
    run.status, run.started_at, run.finished_at, run.error = running, timezone.now(), None, ""
    run.save()
    try:
        yield
    except Exception as exc:  # recorded on the run, then raised again
        run.status = failed
        run.error = exc.message if isinstance(exc, ApplicationError) else f"{type(exc).__name__}: {exc}"
        raise
    finally:
        run.finished_at = timezone.now()
        run.duration_seconds = round(time.perf_counter() - started, 3)
        run.save()
        log.info(event, run=run.pk, status=run.status, seconds=run.duration_seconds, **summary())
