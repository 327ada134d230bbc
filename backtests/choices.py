"""Choices shared by the backtest models, services, API and filters."""

from django.db import models


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class DataSource(models.TextChoices):
    STORED = "stored", "Stored bars"
    CSV = "csv", "CSV file"


class RunKind(models.TextChoices):
    BACKTEST = "backtest", "Backtest"
    WALK_FORWARD = "walk_forward", "Walk-forward"
