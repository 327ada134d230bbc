"""Celery tasks of execution: the host of trading sessions (queue execution)."""

import os
import socket
import time
from decimal import Decimal

import structlog
from celery import shared_task
from django.conf import settings

from execution.brokers import broker_client_build
from execution.models import TradingSessionRecord
from execution.reconciliation_services import reconcile_all
from execution.session_services import session_beat, session_claim, session_end, sessions_ensure
from execution.trading_services import STAGES, TradingSession, trading_session_live
from marketdata.core.bars import Timeframe
from marketdata.core.errors import ApplicationError
from marketdata.selectors import stored_bars_get
from strategies.models import StrategyVersion

log = structlog.get_logger(__name__)


@shared_task(queue="execution")
def trading_session_task(
    version_id: int, mode: str, broker: str = "simulated", capital: str = "10000"
) -> int:
    """Run a strategy version's session on this worker: every new stored bar is traded as its
    ingestion is announced, for as long as the version's stage allows the mode and it is enabled
    (retiring or disabling it, or an edit sending it back to draft, ends the session). It claims
    (version, mode) first (none starts while another runs) and beats while it runs
    (session_services). The steps traded."""
    version = StrategyVersion.objects.get(pk=version_id)
    record = session_claim(
        version=version, mode=mode, broker=broker, host=f"{socket.gethostname()}:{os.getpid()}"
    )
    if record is None:
        log.info("a session of this version already runs", version=version_id, mode=mode)
        return 0
    timeframe = Timeframe.parse(version.config.get("timeframe", "1d"))
    try:
        history = stored_bars_get(
            symbols=version.config["universe"], timeframe=timeframe, start=None, end=None
        )
        session = TradingSession(
            version=version, mode=mode, broker=broker, capital=Decimal(capital), history=history
        )
    except ApplicationError as exc:
        log.warning("trading session refused", version=version_id, mode=mode, error=exc.message)
        session_end(record=record, status=TradingSessionRecord.Status.REFUSED, reason=exc.message)
        return 0
    beat_every = settings.TRADING_SESSION_BEAT_SECONDS
    last_beat = time.monotonic()
    why_stopped = ""

    def stop() -> bool:
        nonlocal last_beat, why_stopped
        if time.monotonic() - last_beat >= beat_every:
            last_beat = time.monotonic()
            if not session_beat(record=record, steps=len(session.runner.steps)):
                why_stopped = "marked lost: another session may start"
                return True
        version.refresh_from_db(fields=["stage", "enabled"])
        if version.stage not in STAGES[mode]:
            why_stopped = f"the version is {version.stage}"
            return True
        if not version.enabled:
            why_stopped = "the version was disabled"
            return True
        return False

    try:
        after = max((frame.index[-1] for frame in history.values() if len(frame)), default=None)
        steps = trading_session_live(session=session, timeframe=timeframe, after=after, stop=stop)
    except Exception as exc:
        session_end(record=record, status=TradingSessionRecord.Status.FAILED, reason=repr(exc))
        raise
    finally:
        session.stop()
    session_end(record=record, status=TradingSessionRecord.Status.STOPPED, reason=why_stopped)
    return steps


@shared_task(queue="monitoring")
def trading_sessions_ensure_task() -> list[dict]:
    """Every minute: a session for every paper or live version that has none running (on the
    execution queue; its workers host them, one per version), lost ones marked."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        log.warning("trading sessions need an execution worker; without one, run `manage.py trade`")
        return []
    ensured = sessions_ensure(
        start=lambda version, mode, broker: trading_session_task.delay(
            version.pk, mode, broker, settings.TRADING_CAPITAL
        )
    )
    return [
        {"version": e.version.pk, "mode": e.mode, "broker": e.broker, "outcome": e.outcome} for e in ensured
    ]


@shared_task(queue="execution")
def reconcile_task() -> list[dict]:
    """Every few minutes: the OMS against each broker its strategies trade through; a mismatch or a
    broker that cannot answer halts those strategies (reconciliation_services)."""
    reports = reconcile_all(
        client_for=lambda broker, mode: broker_client_build(broker=broker, mode=mode, capital=0.0)
    )
    return [
        {
            "broker": r.broker,
            "mode": r.mode,
            "clean": r.clean,
            "mismatches": r.mismatches,
            "failure": r.failure,
        }
        for r in reports
    ]
