"""Monitoring: alerts (what needs a person's eye: a kill switch, a reconciliation mismatch, stale
data, a failed task...), deduplicated while open, with every attempt to deliver each through its
channels; metric snapshots of the accounts and of the system; task failures; daily summaries."""

from django.conf import settings
from django.db import models

from execution.choices import TradingMode
from execution.models import MONEY
from strategies.models import StrategyVersion


class Alert(models.Model):
    class Severity(models.TextChoices):
        INFO = "info"
        WARNING = "warning"
        CRITICAL = "critical"

    severity = models.CharField(max_length=8, choices=Severity.choices)
    source = models.CharField(
        max_length=64, help_text='What raised it, e.g. "kill_switch", "reconciliation".'
    )
    key = models.CharField(
        max_length=200,
        help_text="What it is about: an open alert of the same source and key is not raised twice.",
    )
    message = models.TextField()
    context = models.JSONField(default=dict, blank=True)
    occurrences = models.PositiveIntegerField(default=1, help_text="Times raised while open.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_seen_at = models.DateTimeField(auto_now_add=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved = models.BooleanField(default=False)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "key"], condition=models.Q(resolved=False), name="one_open_alert"
            )
        ]
        indexes = [models.Index(fields=["resolved", "severity"])]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.source}: {self.message[:80]}"


class DeliveryAttempt(models.Model):
    """One attempt to send something through one channel: a failed one is kept with its error, and
    the schedule tries again (the thing sent never depends on the channel: it stays in the database)."""

    channel = models.CharField(max_length=32)
    ok = models.BooleanField()
    error = models.TextField(blank=True)
    attempted_at = models.DateTimeField(db_index=True)

    class Meta:
        abstract = True
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"{self.channel} {'ok' if self.ok else 'failed'} at {self.attempted_at:%Y-%m-%d %H:%M:%S}"


class AlertDelivery(DeliveryAttempt):
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")

    class Meta(DeliveryAttempt.Meta):
        verbose_name_plural = "alert deliveries"
        indexes = [models.Index(fields=["alert", "channel"])]


class MetricSnapshot(models.Model):
    """The figures of one account (a strategy version in a mode) or of all of a mode's accounts
    together, at one time: its cash and positions marked at the latest stored closes."""

    class Scope(models.TextChoices):
        ACCOUNT = "account"  # every strategy version of the mode together
        STRATEGY = "strategy"  # one strategy version's account

    taken_at = models.DateTimeField(db_index=True)
    scope = models.CharField(max_length=8, choices=Scope.choices)
    mode = models.CharField(max_length=8, choices=TradingMode.choices)
    strategy_version = models.ForeignKey(
        StrategyVersion, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    label = models.CharField(max_length=200, help_text='"momentum_v1 v2", or "account" for the total.')
    initial_capital = models.DecimalField(**MONEY)
    cash = models.DecimalField(**MONEY)
    equity = models.DecimalField(**MONEY, help_text="cash + positions marked at the latest closes")
    pnl_day = models.DecimalField(**MONEY, help_text="equity - equity at the previous close (New York day)")
    pnl_total = models.DecimalField(**MONEY, help_text="equity - initial capital")
    gross_exposure = models.DecimalField(**MONEY, help_text="sum of |position value|")
    net_exposure = models.DecimalField(**MONEY, help_text="sum of signed position value")
    exposure_pct = models.FloatField(help_text="gross exposure / equity x 100")
    positions = models.PositiveIntegerField(help_text="open positions")
    peak_equity = models.DecimalField(**MONEY, help_text="the highest equity seen (initial capital included)")
    drawdown_pct = models.FloatField(help_text="(peak - equity) / peak x 100, now")
    max_drawdown_pct = models.FloatField(help_text="the largest drawdown_pct seen")
    sharpe = models.FloatField(null=True, blank=True, help_text="rolling, of daily equity; annualised")
    sortino = models.FloatField(null=True, blank=True, help_text="rolling, of daily equity; annualised")
    trades = models.PositiveIntegerField(help_text="closed round trips (fills matched first in, first out)")
    win_rate = models.FloatField(null=True, blank=True, help_text="winning round trips / trades x 100")
    fills_day = models.PositiveIntegerField(help_text="fills since the previous close")
    turnover = models.FloatField(help_text="notional traded since the previous close / equity then")
    unmarked = models.JSONField(
        default=list, blank=True, help_text="symbols held without a stored close: marked at their cost"
    )

    class Meta:
        ordering = ["-taken_at", "-id"]
        indexes = [models.Index(fields=["scope", "mode", "strategy_version", "taken_at"])]

    def __str__(self) -> str:
        return f"{self.label} {self.mode} at {self.taken_at:%Y-%m-%d %H:%M}: equity {self.equity}"


class SystemSnapshot(models.Model):
    """The platform's own state at one time: health, data staleness per provider, brokers' latency
    and error rate, Celery queues and workers, task failures."""

    taken_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=8, help_text="the health verdict: ok, degraded or down")
    health = models.JSONField(default=dict, help_text="each health check: status, detail")
    data_staleness = models.JSONField(
        default=dict, help_text="per provider: last successful ingestion, its age in seconds"
    )
    stale_symbols = models.PositiveIntegerField(default=0)
    brokers = models.JSONField(default=dict, help_text='per "broker:mode": status, latency, error rate')
    queues = models.JSONField(default=dict, help_text="messages waiting per Celery queue")
    workers = models.JSONField(default=dict, help_text="per Celery worker: its last heartbeat")
    task_failures = models.PositiveIntegerField(default=0, help_text="task failures in the last 24 hours")

    class Meta:
        ordering = ["-taken_at", "-id"]

    def __str__(self) -> str:
        return f"system at {self.taken_at:%Y-%m-%d %H:%M}: {self.status}"


class WorkerHeartbeat(models.Model):
    """A Celery worker as last seen answering a ping; one silent too long raises an alert, once."""

    hostname = models.CharField(max_length=200, unique=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    missing_alerted = models.BooleanField(default=False)

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return f"{self.hostname}: last seen {self.last_seen_at:%Y-%m-%d %H:%M:%S}"


class TaskFailure(models.Model):
    """A Celery task that raised (Celery's task_failure signal)."""

    task = models.CharField(max_length=200, db_index=True)
    task_id = models.CharField(max_length=64, blank=True)
    queue = models.CharField(max_length=64, blank=True)
    exception = models.CharField(max_length=200)
    message = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    args = models.JSONField(default=list, blank=True)
    failed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-failed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.task} failed at {self.failed_at:%Y-%m-%d %H:%M:%S}: {self.exception}"


class DailySummary(models.Model):
    """A trading day after the close: P&L, trades, alerts and risk events, per strategy and in total;
    sent through the channels and kept."""

    day = models.DateField(unique=True, help_text="the New York trading day")
    created_at = models.DateTimeField()
    totals = models.JSONField(default=dict, help_text="per mode: pnl, equity, trades (fills), notional")
    strategies = models.JSONField(default=list, help_text="per strategy version and mode")
    alerts = models.JSONField(default=dict, help_text="alerts raised that day, by severity and source")
    risk_events = models.JSONField(default=dict, help_text="risk events that day, by action")
    text = models.TextField(help_text="the summary as sent")

    class Meta:
        ordering = ["-day"]
        verbose_name_plural = "daily summaries"

    def __str__(self) -> str:
        return f"daily summary {self.day}"


class SummaryDelivery(DeliveryAttempt):
    summary = models.ForeignKey(DailySummary, on_delete=models.CASCADE, related_name="deliveries")

    class Meta(DeliveryAttempt.Meta):
        verbose_name_plural = "summary deliveries"
