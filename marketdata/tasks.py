"""Celery tasks of market data: thin, idempotent doors into the services."""

import structlog
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from marketdata.choices import RunStatus
from marketdata.core.bars import Timeframe
from marketdata.core.errors import ProviderError
from marketdata.models import IngestionRun
from marketdata.selectors import data_freshness_list, universe_ingest_range
from marketdata.services import ingestion_run_create, ingestion_run_enqueue, ingestion_run_execute
from monitoring.services import alert_raise
from quantsite.events import event_bus

log = structlog.get_logger(__name__)


@shared_task(
    bind=True,
    queue="ingestion",
    acks_late=True,
    autoretry_for=(ProviderError,),
    retry_backoff=30,
    retry_backoff_max=900,
    retry_jitter=True,
    max_retries=5,
)
def ingest_bars_task(self, run_id: int) -> int:
    """Load the run's bars (once: a run already loaded is left as it is); the run's id, which the
    work that follows an ingestion (models' predictions) reads."""
    run = IngestionRun.objects.get(pk=run_id)
    if run.status not in {RunStatus.SUCCEEDED, RunStatus.PARTIAL}:
        ingestion_run_execute(run=run)
    return run.pk


@shared_task(queue="ingestion", acks_late=True)
def ingest_universe_task() -> int | None:
    """After the close: bring the daily bars of the active US-equity universe up to date."""
    symbols, start, end = universe_ingest_range(as_of=timezone.now())
    if not symbols:
        log.info("no active instruments to ingest")
        return None
    run = ingestion_run_create(
        provider=settings.MARKETDATA_PROVIDER, symbols=symbols, timeframe=Timeframe.D1, start=start, end=end
    )
    ingestion_run_enqueue(run=run)
    return run.pk


@shared_task(queue="monitoring")
def check_data_freshness_task() -> list[str]:
    """After the daily ingestion: the active instruments whose daily bars stop before the last
    closed session; an event and a warning alert (one while any stays stale)."""
    rows = data_freshness_list(as_of=timezone.now())
    stale = [f for f in rows if f.stale]
    for f in stale:
        log.warning("stale data", symbol=f.symbol, last_bar=str(f.last_bar), expected=str(f.expected))
    if stale:
        symbols = [f.symbol for f in stale]
        event_bus().publish("data.stale", {"symbols": symbols})
        shown = ", ".join(symbols[:20]) + (f" and {len(symbols) - 20} more" if len(symbols) > 20 else "")
        alert_raise(
            severity="warning",
            source="data_freshness",
            key="1d",
            message=f"{len(stale)} of {len(rows)} instruments have no daily bar for "
            f"{stale[0].expected}: {shown}",
            context={"expected": str(stale[0].expected), "stale": symbols[:200]},
        )
    return [f.symbol for f in stale]
