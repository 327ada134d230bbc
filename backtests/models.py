"""Backtest and walk-forward runs: what was asked (strategy, configs, data), what happened, and what
came out."""

from django.conf import settings
from django.db import models

from backtests.choices import DataSource, RunStatus
from marketdata.choices import TimeframeChoices

MAX_STORED_CURVE_POINTS = 5000


class RecordedRun(models.Model):
    """What every recorded run has: what it ran on, its status and error, its report, who asked and
    when it ran."""

    label: str  # what messages call the run ("backtest run")

    strategy = models.CharField(max_length=64)
    symbols = models.JSONField(default=list)
    timeframe = models.CharField(max_length=3, choices=TimeframeChoices.choices)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=8, choices=DataSource.choices, default=DataSource.STORED)
    csv_path = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    error = models.TextField(blank=True)
    report_path = models.CharField(max_length=500, blank=True, help_text="The HTML report, once done.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class BacktestRun(RecordedRun):
    label = "backtest run"  # in messages
    config = models.JSONField(
        default=dict,
        help_text=(
            '{"strategy": the StrategyConfig, "backtest": the BacktestConfig, and for an option '
            'strategy "options": the OptionsConfig and "chains": {"source", "seed"}}; Decimals as strings.'
        ),
    )
    metrics = models.JSONField(null=True, blank=True, help_text="PerformanceMetrics, once done.")
    equity_curve = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            f"Points {{ts, equity, cash, exposure}}, downsampled for storage to at most "
            f"{MAX_STORED_CURVE_POINTS:,} (each bucket keeps its first, lowest, highest and last point; "
            "the last point of the curve is always kept). The HTML report is drawn from the full curve."
        ),
    )
    trades = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "Round trips {symbol, direction, quantity, entry_time, entry_price, exit_time, exit_price, "
            "pnl, commission}."
        ),
    )
    option_trades = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "An options backtest's spreads {underlying, units, legs [{symbol, side, ratio, contracts, "
            "entry_price, exit_price, pnl}], entry_time, exit_time, entry_price, exit_price (net per unit "
            "per share, a credit negative), entry_greeks {delta, vega, theta}, commission, pnl, "
            "exit_reason}."
        ),
    )
    strategy_version = models.ForeignKey(
        "strategies.StrategyVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="backtest_runs",
        help_text="The approved version it backtests (its config and risk policy); empty for research runs.",
    )

    def __str__(self) -> str:
        return (
            f"backtest #{self.pk} {self.strategy} {','.join(self.symbols)} {self.timeframe} ({self.status})"
        )


class WalkForwardRun(RecordedRun):
    """A walk-forward optimisation: its request, its progress (chunks of trials done by the workers)
    and, once done, its result document and headline figures."""

    label = "walk-forward run"  # in messages

    strategy_config = models.JSONField(default=dict, help_text="The base StrategyConfig.")
    walk_forward_config = models.JSONField(
        default=dict, help_text="The WalkForwardConfig: windows, parameter grid, objective, rules."
    )
    backtest_config = models.JSONField(
        default=dict, help_text="The BacktestConfig of every backtest in it; Decimals as strings."
    )
    chunk_size = models.PositiveIntegerField(help_text="Parameter sets per job (a Celery task).")
    chunks_total = models.PositiveIntegerField(
        default=0, help_text="Jobs in the plan, once planned; the jobs done are its chunk rows."
    )
    result = models.JSONField(
        null=True, blank=True, help_text="The walk-forward document (walk_forward_json), once done."
    )
    trials_count = models.PositiveIntegerField(null=True, blank=True)
    total_return_pct = models.FloatField(
        null=True, blank=True, help_text="Of the stitched out-of-sample run."
    )
    sharpe_ratio = models.FloatField(null=True, blank=True, help_text="Of the stitched out-of-sample run.")
    efficiency = models.FloatField(
        null=True, blank=True, help_text="Out-of-sample annualised return / the mean in-sample one."
    )
    dsr_probability = models.FloatField(null=True, blank=True, help_text="Deflated Sharpe ratio, 0..1.")
    pbo = models.FloatField(null=True, blank=True, help_text="Probability of backtest overfitting, 0..1.")

    def __str__(self) -> str:
        return (
            f"walk-forward #{self.pk} {self.strategy} {','.join(self.symbols)} {self.timeframe} "
            f"({self.status})"
        )


# A trial's window in the database: a window's index, or this for the whole span (the core's None).
# A number rather than NULL so that (run, window, combo) is one plain unique key on every database,
# which the upsert of a chunk's trials names as its conflict target.
WHOLE_SPAN = -1


class WalkForwardTrial(models.Model):
    """One parameter set backtested in one window's in-sample span (or over the whole span)."""

    run = models.ForeignKey(WalkForwardRun, on_delete=models.CASCADE, related_name="trials")
    window = models.IntegerField(help_text=f"The window's index; {WHOLE_SPAN} for the whole span.")
    combo = models.PositiveIntegerField(help_text="The set's position in the grid's combinations.")
    parameters = models.JSONField(default=dict)
    metrics = models.JSONField(null=True, blank=True, help_text="PerformanceMetrics; null when it failed.")
    error = models.TextField(blank=True, help_text="Why the set could not run (invalid parameters).")
    returns = models.BinaryField(
        null=True, blank=True, help_text="Per-bar returns as little-endian float64 (whole-span trials only)."
    )

    class Meta:
        ordering = ["run", "window", "combo"]
        constraints = [
            models.UniqueConstraint(fields=["run", "window", "combo"], name="walk_forward_trial_unique"),
            models.CheckConstraint(
                condition=models.Q(window__gte=WHOLE_SPAN), name="walk_forward_trial_window"
            ),
        ]

    def __str__(self) -> str:
        where = "whole span" if self.window == WHOLE_SPAN else f"window {self.window}"
        return f"walk-forward #{self.run_id} {where} set {self.combo}"


class WalkForwardChunk(models.Model):
    """A job of a run that is done: its trials are stored (written in the same transaction)."""

    run = models.ForeignKey(WalkForwardRun, on_delete=models.CASCADE, related_name="chunks")
    key = models.CharField(max_length=64, help_text='"w3:0-29": window 3, sets 0 to 29; "all:0-29".')
    done_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="walk_forward_chunk_unique")]

    def __str__(self) -> str:
        return f"walk-forward #{self.run_id} chunk {self.key}"
