from django.db import models


class ModelStatus(models.TextChoices):
    CANDIDATE = "candidate"
    APPROVED = "approved"
    RETIRED = "retired"


class StrategyStage(models.TextChoices):
    """DESIGN.md section 7: each "approved" stage is reached through an Approval."""

    DRAFT = "draft"
    BACKTEST_APPROVED = "backtest_approved"
    BACKTESTED = "backtested"
    PAPER_APPROVED = "paper_approved"
    PAPER = "paper"
    LIVE_APPROVED = "live_approved"
    LIVE = "live"
    RETIRED = "retired"


class ApprovalKind(models.TextChoices):
    PROMOTION = "promotion", "promote a strategy version"
    RISK_POLICY = "risk_policy", "change risk limits"
    HALT_RESET = "halt_reset", "leave HALTED"


class ApprovalDecision(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    VOIDED = "voided", "voided (what it approved changed)"
