"""What strategies do when work elsewhere finishes."""

INGESTION_TASK = "marketdata.tasks.ingest_bars_task"


def predictions_after_ingestion(sender=None, result=None, **_) -> None:
    """Celery's task_success: an ingestion finished, so the approved models predict (a task of the
    training queue, given the ingestion run's id)."""
    if getattr(sender, "name", None) != INGESTION_TASK or result is None:
        return
    from strategies.tasks import predict_universe_task  # the model libraries load only then

    predict_universe_task.delay(result)
