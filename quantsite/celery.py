"""The Celery app, with one queue per workload.

Workers pick the queues they serve (`celery -A quantsite worker -Q backtests`), so each kind of
work scales on its own. Tasks name their queue in their decorator.
"""

import os

from celery import Celery, signals
from django.db import close_old_connections
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantsite.settings")

QUEUES = ("ingestion", "features", "training", "backtests", "execution", "monitoring")

app = Celery("quantsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in QUEUES]
app.conf.task_default_queue = "monitoring"
app.autodiscover_tasks()


@signals.task_prerun.connect
def _connections_checked(task, **_) -> None:
    """Before a task in a worker, as before a request: a connection past CONN_MAX_AGE, or broken,
    is closed (and a kept one is checked before its first use), so a task never inherits a dead
    one. (A task run eagerly shares its caller's connection and transaction.)"""
    if not task.request.is_eager:
        close_old_connections()
