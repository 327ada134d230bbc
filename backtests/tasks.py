"""Celery tasks of backtests: thin, idempotent doors into the services."""

from datetime import timedelta

import numpy as np
import pandas as pd
import structlog
from celery import shared_task, signals
from django.conf import settings

from backtests.choices import RunStatus
from backtests.core.engine import BacktestEngine
from backtests.core.results import BacktestConfig
from backtests.models import BacktestRun, WalkForwardRun
from backtests.services import backtest_run_execute
from backtests.walkforward_services import (
    walk_forward_chunk_execute,
    walk_forward_run_assemble,
    walk_forward_run_execute,
    walk_forward_runs_stalled_resume,
)
from marketdata.core.bars import bar_frame
from marketdata.core.errors import ApplicationError
from strategies.core.config import StrategyConfig
from strategies.core.registry import strategy_build

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


@shared_task(bind=True, queue="backtests", acks_late=True)
def walk_forward_run_execute_task(self, run_id: int) -> None:
    """Plan a walk-forward and send its jobs out as a chord (chunk tasks, then the assembly)."""
    run = WalkForwardRun.objects.get(pk=run_id)
    if run.status == RunStatus.DONE:
        return
    try:
        walk_forward_run_execute(run=run)
    except ApplicationError as exc:
        log.warning("walk-forward failed", run=run.pk, error=exc.message)


@shared_task(bind=True, queue="backtests", acks_late=True)
def walk_forward_chunk_task(self, run_id: int, window: int | None, combos: list[int]) -> None:
    """One job of a walk-forward: a window (None: the whole span) times some parameter sets. Run
    again (a worker died before acknowledging it), it finds its job done and returns."""
    run = WalkForwardRun.objects.get(pk=run_id)
    try:
        walk_forward_chunk_execute(run=run, window=window, combos=combos)
    except ApplicationError as exc:
        # Recorded on the run as failed; the assembly then finds the run over and does nothing.
        log.warning("walk-forward job failed", run=run.pk, error=exc.message)


@shared_task(bind=True, queue="backtests", acks_late=True)
def walk_forward_assemble_task(self, run_id: int) -> None:
    """The chord's callback: the result from every job's stored trials."""
    run = WalkForwardRun.objects.get(pk=run_id)
    try:
        walk_forward_run_assemble(run=run)
    except ApplicationError as exc:
        log.warning("walk-forward failed", run=run.pk, error=exc.message)


@shared_task(bind=True, queue="backtests")
def walk_forward_stalled_resume_task(self) -> None:
    """Periodic: walk-forwards with no job done for WALK_FORWARD_STALL_SECONDS get their missing
    jobs sent again (a job the broker lost with a dead worker would leave them running for ever)."""
    resumed = walk_forward_runs_stalled_resume(
        stalled_after=timedelta(seconds=settings.WALK_FORWARD_STALL_SECONDS)
    )
    if resumed:
        log.warning("stalled walk-forwards resumed", runs=resumed)


@signals.worker_init.connect
def _compiled_code_loaded(sender, **_) -> None:
    """A worker that takes backtests runs a small one in its main process before it forks its pool,
    so that every pool process starts with the compiled kernel and metrics loaded (from numba's
    cache, or compiled) instead of loading them at its first task."""
    if "backtests" not in sender.app.amqp.queues.consume_from:
        return
    close = 100.0 + 10.0 * np.sin(np.arange(60) / 5.0)  # SMA(10) and SMA(20) cross
    days = pd.date_range("2024-01-01", periods=60, tz="UTC")
    bars = bar_frame(days, close, close + 1, close - 1, close, np.full(60, 1e6))
    strategy = strategy_build(StrategyConfig(strategy="momentum", universe=["WARM"]))
    BacktestEngine().measure([strategy], bars, BacktestConfig(), fast=True)
