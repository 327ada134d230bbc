from django.contrib import admin

from strategies.models import ModelPrediction, TrainedModel


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
