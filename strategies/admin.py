from django.contrib import admin

from strategies.models import TrainedModel


@admin.register(TrainedModel)
class TrainedModelAdmin(admin.ModelAdmin):
    list_display = ("id", "model_type", "label", "feature_set", "timeframe", "rows", "status", "created_at")
    list_filter = ("status", "model_type", "timeframe")
    search_fields = ("label", "feature_set", "content_hash")
    readonly_fields = [
        f.name for f in TrainedModel._meta.fields if f.name not in {"status", "retrain_weekly"}
    ]
