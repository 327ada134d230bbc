"""Celery tasks of features: thin doors into the services."""

import structlog
from celery import shared_task

from features.selectors import feature_set_get
from features.services import features_compute
from marketdata.core.bars import Timeframe
from marketdata.core.errors import ApplicationError

log = structlog.get_logger(__name__)


@shared_task(bind=True, queue="features", acks_late=True)
def compute_features_task(self, feature_set: str, symbols: list[str], timeframe: str = "1d") -> int:
    """Bring the feature cache of these symbols up to date with their stored bars; the rows it
    holds for them. Run twice, the second finds the cache current and only reads it."""
    try:
        features = features_compute(
            feature_set=feature_set_get(name=feature_set),
            symbols=symbols,
            timeframe=Timeframe.parse(timeframe),
        )
    except ApplicationError as exc:
        # Bad inputs (an unknown set or symbol, no bars): retrying would fail the same way.
        log.warning("features not computed", feature_set=feature_set, symbols=symbols, error=exc.message)
        return 0
    return len(features)
