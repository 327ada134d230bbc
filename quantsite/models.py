"""The audit trail: every approval, risk-limit change, trading-state change, kill-switch action and
order, with its actor and time. Append-only: the platform never changes or deletes a record (the
model, its queryset and the admin all refuse to)."""

from django.conf import settings
from django.db import models

from marketdata.core.errors import Conflict


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise Conflict("audit records are never changed")

    def delete(self):
        raise Conflict("audit records are never deleted")


class AuditRecord(models.Model):
    ts = models.DateTimeField(auto_now_add=True, db_index=True)
    # None: the platform itself (a breaker, a schedule). PROTECT: a user with records is deactivated,
    # never deleted, so no record loses its actor.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=150, help_text="Who, as named when it happened.")
    action = models.CharField(max_length=64, help_text='e.g. "kill_switch.engage".')
    subject_type = models.CharField(max_length=64)
    subject_id = models.CharField(max_length=64, blank=True)
    summary = models.TextField()
    data = models.JSONField(default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-ts", "-id"]
        indexes = [models.Index(fields=["subject_type", "subject_id"]), models.Index(fields=["action"])]

    def __str__(self) -> str:
        return f"{self.ts:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise Conflict("audit records are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise Conflict("audit records are never deleted")
