"""Celery tasks of strategies: thin doors into the services."""

import structlog
from celery import shared_task

from features.core.labels import label_spec_parse
from features.selectors import feature_set_get
from marketdata.core.bars import Timeframe
from marketdata.core.errors import ApplicationError
from marketdata.models import IngestionRun
from strategies.services import model_train, models_retrain_weekly, universe_predictions_make

log = structlog.get_logger(__name__)


@shared_task(bind=True, queue="training", acks_late=True)
def train_model_task(
    self,
    model_type: str,
    feature_set: str,
    label: str,
    symbols: list[str],
    timeframe: str = "1d",
    validation: str = "purged-kfold:5",
    embargo: int = 0,
    params: dict | None = None,
) -> int | None:
    """Train and register a model (see model_train); its id, or None when the request is refused."""
    try:
        trained, _ = model_train(
            model_type=model_type,
            feature_set=feature_set_get(name=feature_set),
            label=label_spec_parse(label),
            symbols=symbols,
            timeframe=Timeframe.parse(timeframe),
            validation=validation,
            embargo=embargo,
            params=params,
        )
    except ApplicationError as exc:
        # Bad inputs: retrying would fail the same way.
        log.warning("model not trained", model_type=model_type, symbols=symbols, error=exc.message)
        return None
    return trained.pk


@shared_task(queue="training", acks_late=True)
def retrain_models_task() -> list[int]:
    """Weekly: retrain the models marked for it on the newest bars; the new candidates' ids."""
    return [trained.pk for trained in models_retrain_weekly()]


@shared_task(queue="training", acks_late=True)
def predict_universe_task(ingestion_run_id: int) -> int:
    """After an ingestion: the approved models of its timeframe predict at the newest bar of every
    active instrument (kept once per bar: running it again changes nothing). The predictions made."""
    run = IngestionRun.objects.get(pk=ingestion_run_id)
    return universe_predictions_make(timeframe=Timeframe(run.timeframe))
