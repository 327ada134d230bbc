from django.conf import settings
from django.db import models

from marketdata.choices import TimeframeChoices
from strategies.choices import ApprovalDecision, ApprovalKind, ModelStatus, StrategyStage


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


class StrategyVersion(models.Model):
    """A strategy config (and the model it trades, if any) going through the lifecycle: DRAFT,
    then promotions, each approved by a second person; editing the config sends it back to DRAFT
    and voids its approvals."""

    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField()
    config = models.JSONField(help_text="The StrategyConfig, as JSON.")
    config_hash = models.CharField(max_length=64)
    model = models.ForeignKey(TrainedModel, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    model_hash = models.CharField(max_length=64, blank=True)
    stage = models.CharField(max_length=24, choices=StrategyStage.choices, default=StrategyStage.DRAFT)
    enabled = models.BooleanField(
        default=True,
        help_text="An operator's switch: a disabled version gets no trading session, and a running one "
        "stops at its next look. Its stage and approvals stay as they are.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="one_strategy_version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.stage})"


class Approval(models.Model):
    """A request and its decision by another person (four-eyes): a promotion of a strategy version,
    a risk-limit change or leaving HALTED. It holds the hashes of what it approves: a change to the
    config or the model after the request voids it."""

    kind = models.CharField(max_length=16, choices=ApprovalKind.choices)
    subject_type = models.CharField(max_length=64)
    subject_id = models.CharField(max_length=64, blank=True)
    stage = models.CharField(
        max_length=24, choices=StrategyStage.choices, blank=True, help_text="A promotion's target stage."
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    request_comment = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(
        max_length=16, choices=ApprovalDecision.choices, default=ApprovalDecision.PENDING
    )
    comment = models.TextField(blank=True)
    config_hash = models.CharField(max_length=64, blank=True)
    model_hash = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(default=dict, blank=True, help_text="What is asked: the new risk limits, ...")

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["subject_type", "subject_id", "decision"])]

    def __str__(self) -> str:
        target = f" to {self.stage}" if self.stage else ""
        return f"approval #{self.pk}: {self.get_kind_display()}{target} ({self.decision})"
