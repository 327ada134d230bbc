from django.db import models


class HealthStatus(models.TextChoices):
    """A health check's state, and the verdict of all of them (the worst)."""

    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"
