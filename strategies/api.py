"""Strategies API: the model registry (read-only)."""

from rest_framework import serializers, viewsets

from strategies.models import TrainedModel

SUMMARY_FIELDS = [
    "id",
    "model_type",
    "label",
    "feature_set",
    "feature_set_version",
    "symbols",
    "timeframe",
    "rows",
    "status",
    "validation",
    "created_at",
]


class TrainedModelSerializer(serializers.ModelSerializer):
    overall = serializers.SerializerMethodField(
        help_text="Cross-validation figures over every out-of-fold row."
    )

    class Meta:
        model = TrainedModel
        fields = [*SUMMARY_FIELDS, "overall"]

    def get_overall(self, model: TrainedModel) -> dict:
        return model.metrics.get("overall", {})


class TrainedModelDetailSerializer(TrainedModelSerializer):
    class Meta:
        model = TrainedModel
        fields = [
            *SUMMARY_FIELDS,
            "overall",
            "metrics",
            "importance",
            "params",
            "training_start",
            "training_end",
            "content_hash",
            "retrain_weekly",
            "retrained_from",
            "latest_predictions",
        ]

    latest_predictions = serializers.SerializerMethodField(
        help_text="The model's predictions at the newest bar predicted, per instrument."
    )

    def get_latest_predictions(self, model: TrainedModel) -> list[dict]:
        newest = model.predictions.order_by("-ts").values_list("ts", flat=True).first()
        if newest is None:
            return []
        return [
            {"symbol": p.instrument.symbol, "ts": p.ts.isoformat(), "values": p.values}
            for p in model.predictions.filter(ts=newest).select_related("instrument")
        ]


class TrainedModelViewSet(viewsets.ReadOnlyModelViewSet):
    """The model registry: each model's training, validation figures and feature importance."""

    queryset = TrainedModel.objects.all()
    filterset_fields = ["status", "model_type", "timeframe"]
    ordering_fields = ["created_at", "id"]

    def get_serializer_class(self):
        return TrainedModelDetailSerializer if self.action == "retrieve" else TrainedModelSerializer
