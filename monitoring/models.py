"""Alerts: what needs a person's eye (a kill switch, a reconciliation mismatch, stale data, a
failed task...), deduplicated while open, and every attempt to deliver each through its channels."""

from django.conf import settings
from django.db import models


class Alert(models.Model):
    class Severity(models.TextChoices):
        INFO = "info"
        WARNING = "warning"
        CRITICAL = "critical"

    severity = models.CharField(max_length=8, choices=Severity.choices)
    source = models.CharField(
        max_length=64, help_text='What raised it, e.g. "kill_switch", "reconciliation".'
    )
    key = models.CharField(
        max_length=200,
        help_text="What it is about: an open alert of the same source and key is not raised twice.",
    )
    message = models.TextField()
    context = models.JSONField(default=dict, blank=True)
    occurrences = models.PositiveIntegerField(default=1, help_text="Times raised while open.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_seen_at = models.DateTimeField(auto_now_add=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved = models.BooleanField(default=False)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "key"], condition=models.Q(resolved=False), name="one_open_alert"
            )
        ]
        indexes = [models.Index(fields=["resolved", "severity"])]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.source}: {self.message[:80]}"
