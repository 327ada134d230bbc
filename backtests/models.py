"""Backtest runs: what was asked (strategy, config, data), what happened, and what came out."""

from django.conf import settings
from django.db import models

from backtests.choices import DataSource, RunStatus
from marketdata.choices import TimeframeChoices

MAX_STORED_CURVE_POINTS = 5000


class BacktestRun(models.Model):
    strategy = models.CharField(max_length=64)
    config = models.JSONField(
        default=dict,
        help_text='{"strategy": the StrategyConfig, "backtest": the BacktestConfig}; Decimals as strings.',
    )
    symbols = models.JSONField(default=list)
    timeframe = models.CharField(max_length=3, choices=TimeframeChoices.choices)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=8, choices=DataSource.choices, default=DataSource.STORED)
    csv_path = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    error = models.TextField(blank=True)
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
    report_path = models.CharField(max_length=500, blank=True, help_text="The HTML report, once done.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return (
            f"backtest #{self.pk} {self.strategy} {','.join(self.symbols)} {self.timeframe} ({self.status})"
        )
