"""Celery tasks of execution: the host of trading sessions (queue execution)."""

from decimal import Decimal

import structlog
from celery import shared_task

from execution.brokers import broker_client_build
from execution.reconciliation_services import reconcile_all
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
    ingestion is announced, for as long as the version's stage allows the mode (retiring it, or
    an edit sending it back to draft, ends the session). The steps traded."""
    version = StrategyVersion.objects.get(pk=version_id)
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
        return 0

    def stop() -> bool:
        version.refresh_from_db(fields=["stage"])
        return version.stage not in STAGES[mode]

    try:
        after = max(frame.index[-1] for frame in history.values())
        return trading_session_live(session=session, timeframe=timeframe, after=after, stop=stop)
    finally:
        session.stop()


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
