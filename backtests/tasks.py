"""Celery tasks of backtests: thin, idempotent doors into the services."""

import structlog
from celery import shared_task

from backtests.choices import RunStatus
from backtests.models import BacktestRun
from backtests.services import backtest_run_execute
from marketdata.core.errors import ApplicationError

log = structlog.get_logger(__name__)


@shared_task(bind=True, queue="backtests", acks_late=True)
def backtest_run_execute_task(self, run_id: int) -> None:
    run = BacktestRun.objects.get(pk=run_id)
    if run.status == RunStatus.DONE:
        return
    try:
        backtest_run_execute(run=run)
    except ApplicationError as exc:
        # Bad data or inputs, recorded on the run as failed: retrying would fail the same way.
        log.warning("backtest failed", run=run.pk, error=exc.message)
