from django.contrib import admin

from risk.models import RiskPolicyRecord, TradingStateRecord


@admin.register(RiskPolicyRecord)
class RiskPolicyRecordAdmin(admin.ModelAdmin):
    """Policies change through approvals (risk_policy_change_request), never by editing a version."""

    list_display = ("scope", "version", "values", "created_by", "approval", "created_at")
    list_filter = ("scope",)
    readonly_fields = [f.name for f in RiskPolicyRecord._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TradingStateRecord)
class TradingStateRecordAdmin(admin.ModelAdmin):
    """States change through the kill switch and approved resets, never by editing them here."""

    list_display = ("scope", "state", "reason", "flatten_requested", "changed_by", "changed_at")
    readonly_fields = [f.name for f in TradingStateRecord._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
