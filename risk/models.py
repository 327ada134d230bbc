"""The risk policy in force and the trading states, per scope: the platform ("global") or one
strategy version ("version:<id>"). Their changes go through approvals and the audit trail."""

from django.conf import settings
from django.db import models

from risk.core.state import TradingState
from strategies.models import Approval

GLOBAL = "global"
TRADING_STATE_CHOICES = [(s.value, s.value) for s in TradingState]


class RiskPolicyRecord(models.Model):
    """A version of a scope's risk policy; the newest of a scope applies."""

    scope = models.CharField(max_length=32, help_text='"global" or "version:<id>"')
    version = models.PositiveIntegerField()
    values = models.JSONField(help_text="The RiskPolicy as set: its level and the values set on their own.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approval = models.ForeignKey(Approval, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["scope", "-version"]
        constraints = [models.UniqueConstraint(fields=["scope", "version"], name="one_policy_version")]

    def __str__(self) -> str:
        return f"risk policy {self.scope} v{self.version}"


class TradingStateRecord(models.Model):
    """A scope's trading state now (its history is in the audit trail)."""

    scope = models.CharField(max_length=32, unique=True, help_text='"global" or "version:<id>"')
    state = models.CharField(max_length=16, choices=TRADING_STATE_CHOICES, default=TradingState.ACTIVE)
    reason = models.TextField(blank=True)
    flatten_requested = models.BooleanField(
        default=False, help_text="The kill switch asked for positions to be closed (by the running session)."
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.scope}: {self.state}"
