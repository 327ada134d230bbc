"""The Celery app, with one queue per workload.

Workers pick the queues they serve (`celery -A quantsite worker -Q backtests`), so each kind of
work scales on its own. Tasks name their queue in their decorator.
"""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantsite.settings")

QUEUES = ("ingestion", "features", "training", "backtests", "execution", "monitoring")

app = Celery("quantsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in QUEUES]
app.conf.task_default_queue = "monitoring"
app.autodiscover_tasks()
