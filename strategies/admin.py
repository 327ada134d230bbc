from django.contrib import admin, messages

from marketdata.core.errors import ApplicationError
from strategies.lifecycle_services import approval_decide, promotion_request
from strategies.models import Approval, ModelPrediction, StrategyVersion, TrainedModel


@admin.register(TrainedModel)
class TrainedModelAdmin(admin.ModelAdmin):
    list_display = ("id", "model_type", "label", "feature_set", "timeframe", "rows", "status", "created_at")
    list_filter = ("status", "model_type", "timeframe")
    search_fields = ("label", "feature_set", "content_hash")
    readonly_fields = [
        f.name for f in TrainedModel._meta.fields if f.name not in {"status", "retrain_weekly"}
    ]


@admin.register(ModelPrediction)
class ModelPredictionAdmin(admin.ModelAdmin):
    list_display = ("id", "model", "instrument", "timeframe", "ts", "values", "created_at")
    list_filter = ("timeframe", "model")
    search_fields = ("instrument__symbol",)
    readonly_fields = [f.name for f in ModelPrediction._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


def _each(modeladmin, request, queryset, do) -> None:
    """Run do(obj) for each selected object; every refusal is shown, none is lost."""
    for obj in queryset:
        try:
            do(obj)
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", level=messages.ERROR)
        else:
            modeladmin.message_user(request, f"{obj}: done", level=messages.SUCCESS)


@admin.register(StrategyVersion)
class StrategyVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "stage", "model", "created_by", "updated_at")
    list_filter = ("stage",)
    search_fields = ("name", "config_hash")
    readonly_fields = [f.name for f in StrategyVersion._meta.fields]
    actions = ["request_promotion"]

    def has_add_permission(self, request) -> bool:
        return False  # versions are created from configs (CLI, API), with their hashes

    @admin.action(description="Request the next stage (another person decides)")
    def request_promotion(self, request, queryset) -> None:
        _each(self, request, queryset, lambda v: promotion_request(version=v, requested_by=request.user))


@admin.register(Approval)
class ApprovalAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "subject_type",
        "subject_id",
        "stage",
        "requested_by",
        "decision",
        "decided_by",
    )
    list_filter = ("kind", "decision")
    readonly_fields = [f.name for f in Approval._meta.fields]
    actions = ["approve", "reject"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Approve (four-eyes: not your own requests)")
    def approve(self, request, queryset) -> None:
        _each(
            self,
            request,
            queryset,
            lambda a: approval_decide(approval=a, decided_by=request.user, approve=True),
        )

    @admin.action(description="Reject")
    def reject(self, request, queryset) -> None:
        _each(
            self,
            request,
            queryset,
            lambda a: approval_decide(approval=a, decided_by=request.user, approve=False),
        )
