from django.contrib import admin

from quantsite.admin import ReadOnlyAdmin
from risk.models import RiskPolicyRecord, TradingStateRecord


@admin.register(RiskPolicyRecord)
class RiskPolicyRecordAdmin(ReadOnlyAdmin):
    """Policies change through approvals (risk_policy_change_request), never by editing a version."""

    list_display = ("scope", "version", "values", "created_by", "approval", "created_at")
    list_filter = ("scope",)


@admin.register(TradingStateRecord)
class TradingStateRecordAdmin(ReadOnlyAdmin):
    """States change through the kill switch and approved resets, never by editing them here."""

    list_display = ("scope", "state", "reason", "flatten_requested", "changed_by", "changed_at")
