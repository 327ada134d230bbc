from django.conf import settings
from django.db import models

from marketdata.choices import TimeframeChoices
from strategies.choices import ModelStatus


class TrainedModel(models.Model):
    """A model in the registry: how it was trained, how it validated, and its artifact."""

    model_type = models.CharField(max_length=40)
    feature_set = models.CharField(max_length=64)
    feature_set_version = models.CharField(max_length=12)
    label = models.CharField(max_length=64, help_text='The label definition, e.g. "fixed:5:0.02:2".')
    symbols = models.JSONField(default=list)
    timeframe = models.CharField(max_length=3, choices=TimeframeChoices.choices)
    training_start = models.DateTimeField()
    training_end = models.DateTimeField()
    rows = models.PositiveIntegerField(help_text="Labelled rows trained on.")
    params = models.JSONField(default=dict)
    validation = models.CharField(max_length=64, help_text='e.g. "purged-kfold:5, embargo 5".')
    metrics = models.JSONField(default=dict, help_text="Cross-validation figures: per fold and overall.")
    importance = models.JSONField(default=dict, help_text="Global feature importance, largest first.")
    artifact_path = models.CharField(max_length=500)
    content_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=ModelStatus.choices, default=ModelStatus.CANDIDATE)
    retrain_weekly = models.BooleanField(
        default=False,
        help_text="Train the same recipe again every week on the newest bars (a new candidate, which "
        "takes the mark over).",
    )
    retrained_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retrainings"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"model #{self.pk} {self.model_type} {self.label} ({self.status})"


class ModelPrediction(models.Model):
    """What a model predicted at a bar of an instrument (the newest bar after each ingestion)."""

    model = models.ForeignKey(TrainedModel, on_delete=models.CASCADE, related_name="predictions")
    instrument = models.ForeignKey("marketdata.Instrument", on_delete=models.CASCADE, related_name="+")
    timeframe = models.CharField(max_length=3, choices=TimeframeChoices.choices)
    ts = models.DateTimeField(help_text="The bar predicted from (its features' last bar).")
    values = models.JSONField(help_text='Each class\'s probability ({"0": 0.7, "1": 0.3}), or {"value": x}.')
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ts", "instrument__symbol"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "instrument", "timeframe", "ts"], name="one_prediction_per_model_bar"
            )
        ]

    def __str__(self) -> str:
        return f"model #{self.model_id} on {self.instrument} at {self.ts:%Y-%m-%d %H:%M}"
