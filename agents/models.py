"""The record of every agent tool call (through the API or the MCP server): who, which agent and
tool, the arguments, what came of it, how long it took. Written by agents.services only."""

from django.conf import settings
from django.db import models


class ToolCall(models.Model):
    class Via(models.TextChoices):
        API = "api"
        MCP = "mcp"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    agent = models.CharField(max_length=32, blank=True, help_text="Empty when no tool has the name.")
    tool = models.CharField(max_length=100)
    via = models.CharField(max_length=8, choices=Via.choices)
    arguments = models.JSONField(default=dict, blank=True)
    ok = models.BooleanField()
    result = models.TextField(blank=True, help_text="The result as JSON, cut to its first 2,000 characters.")
    error = models.CharField(
        max_length=64, blank=True, help_text='Its code: "invalid_input", "forbidden", ...'
    )
    message = models.TextField(blank=True)
    duration_ms = models.FloatField()
    called_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-called_at", "-id"]
        indexes = [models.Index(fields=["user", "agent", "called_at"])]
        permissions = [
            ("trade_live", "Can place live orders through agent tools (paper only without it)"),
        ]

    def __str__(self) -> str:
        outcome = "ok" if self.ok else self.error
        return f"{self.called_at:%Y-%m-%d %H:%M:%S} {self.tool} by user #{self.user_id}: {outcome}"
