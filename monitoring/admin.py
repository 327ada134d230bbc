"""Monitoring in the admin: alerts (acknowledged and resolved through the same services as the API),
their deliveries, snapshots, task failures and daily summaries, all read-only."""

from django.contrib import admin, messages

from marketdata.core.errors import ApplicationError
from monitoring.models import (
    Alert,
    AlertDelivery,
    DailySummary,
    MetricSnapshot,
    SummaryDelivery,
    SystemSnapshot,
    TaskFailure,
    WorkerHeartbeat,
)
from monitoring.services import alert_acknowledge, alert_resolve
from quantsite.admin import ReadOnlyAdmin


class AlertDeliveryInline(admin.TabularInline):
    model = AlertDelivery
    fields = readonly_fields = ("channel", "ok", "error", "attempted_at")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "severity",
        "source",
        "message",
        "occurrences",
        "acknowledged_by",
        "resolved",
    )
    list_filter = ("severity", "source", "resolved")
    search_fields = ("source", "key", "message")
    date_hierarchy = "created_at"
    inlines = [AlertDeliveryInline]
    actions = ["acknowledge", "resolve"]

    def _each(self, request, queryset, act, done: str) -> None:
        for alert in queryset:
            try:
                act(alert=alert, by=request.user)
            except ApplicationError as exc:
                self.message_user(request, f"alert #{alert.pk}: {exc.message}", level=messages.ERROR)
            else:
                self.message_user(request, f"alert #{alert.pk} {done}", level=messages.SUCCESS)

    @admin.action(description="Acknowledge the selected alerts (operator)")
    def acknowledge(self, request, queryset) -> None:
        self._each(request, queryset, alert_acknowledge, "acknowledged")

    @admin.action(description="Resolve the selected alerts (operator)")
    def resolve(self, request, queryset) -> None:
        self._each(request, queryset, alert_resolve, "resolved")


@admin.register(MetricSnapshot)
class MetricSnapshotAdmin(ReadOnlyAdmin):
    list_display = (
        "taken_at",
        "scope",
        "mode",
        "label",
        "equity",
        "pnl_day",
        "pnl_total",
        "exposure_pct",
        "max_drawdown_pct",
        "sharpe",
        "win_rate",
    )
    list_filter = ("scope", "mode")
    date_hierarchy = "taken_at"


@admin.register(SystemSnapshot)
class SystemSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("taken_at", "status", "stale_symbols", "task_failures")
    list_filter = ("status",)
    date_hierarchy = "taken_at"


@admin.register(TaskFailure)
class TaskFailureAdmin(ReadOnlyAdmin):
    list_display = ("failed_at", "task", "queue", "exception", "message")
    list_filter = ("queue", "task")
    search_fields = ("task", "task_id", "message")
    date_hierarchy = "failed_at"


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ("hostname", "first_seen_at", "last_seen_at", "missing_alerted")


class SummaryDeliveryInline(AlertDeliveryInline):
    model = SummaryDelivery


@admin.register(DailySummary)
class DailySummaryAdmin(ReadOnlyAdmin):
    list_display = ("day", "created_at")
    date_hierarchy = "day"
    inlines = [SummaryDeliveryInline]
