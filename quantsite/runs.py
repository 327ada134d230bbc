"""How every recorded run (ingestion, backtest, walk-forward, ...) starts and ends, in one place."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog
from django.utils import timezone

from marketdata.core.errors import ApplicationError

log = structlog.get_logger(__name__)


def run_error_message(exc: Exception) -> str:
    """What a failed run keeps: an application error's own message, else the exception's type and text."""
    return exc.message if isinstance(exc, ApplicationError) else f"{type(exc).__name__}: {exc}"


@contextmanager
def run_recorded(
    run, *, running: str, failed: str, event: str, summary: Callable[[], dict], resumed: bool = False
) -> Iterator[None]:
    """Mark the run running and saved; however the block ends, record the finish time and duration
    and log `event` with summary(). A failure is kept on the run (its message, the failed status)
    and raised again: nothing fails silently, and no failure is lost.

    resumed: the block is the last step of a run started earlier (a walk-forward's assembly after
    its fanned-out jobs): its start time is kept and the duration counts from it."""
    started = time.perf_counter()
    if resumed and run.started_at is not None:
        run.status, run.finished_at, run.error = running, None, ""
    else:
        run.status, run.started_at, run.finished_at, run.error = running, timezone.now(), None, ""
        resumed = False
    run.save()
    try:
        yield
    except Exception as exc:  # recorded on the run, then raised again
        run.status = failed
        run.error = run_error_message(exc)
        raise
    finally:
        run.finished_at = timezone.now()
        if resumed:
            run.duration_seconds = round((run.finished_at - run.started_at).total_seconds(), 3)
        else:
            run.duration_seconds = round(time.perf_counter() - started, 3)
        run.save()
        log.info(event, run=run.pk, status=run.status, seconds=run.duration_seconds, **summary())
