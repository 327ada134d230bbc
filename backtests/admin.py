from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from backtests.choices import RunStatus
from backtests.models import BacktestRun, WalkForwardRun
from backtests.selectors import walk_forward_progress
from marketdata.admin import ReadOnlyAdmin


def _metric(run: BacktestRun, key: str, suffix: str = "") -> str:
    value = (run.metrics or {}).get(key)
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}{suffix}"


class RecordedRunAdmin(ReadOnlyAdmin):
    """Runs are started from the CLI or the API; here they are looked at, never edited."""

    route: str  # the URL names' prefix ("backtest-run": "backtest-run-report")
    list_filter = ["status", "strategy", "timeframe", "source"]
    search_fields = ["strategy"]
    list_select_related = ["requested_by"]

    @admin.display(description="symbols")
    def symbol_list(self, run) -> str:
        return ", ".join(run.symbols)

    @admin.display(description="report")
    def report(self, run) -> str:
        if run.status != RunStatus.DONE or not run.report_path:
            return "—"
        return format_html('<a href="{}">HTML report</a>', reverse(f"{self.route}-report", args=[run.pk]))


@admin.register(BacktestRun)
class BacktestRunAdmin(RecordedRunAdmin):
    route = "backtest-run"

    list_display = [
        "id",
        "status",
        "strategy",
        "symbol_list",
        "timeframe",
        "total_return",
        "sharpe",
        "max_drawdown",
        "trades_count",
        "created_at",
        "report",
    ]
    exclude = ["equity_curve", "trades"]  # thousands of points: the report shows them
    readonly_fields = ["report"]

    @admin.display(description="return")
    def total_return(self, run: BacktestRun) -> str:
        return _metric(run, "total_return_pct", "%")

    @admin.display(description="Sharpe")
    def sharpe(self, run: BacktestRun) -> str:
        return _metric(run, "sharpe_ratio")

    @admin.display(description="max drawdown")
    def max_drawdown(self, run: BacktestRun) -> str:
        return _metric(run, "max_drawdown_pct", "%")

    @admin.display(description="trades")
    def trades_count(self, run: BacktestRun) -> str:
        return _metric(run, "total_trades")


def _figure(value: float | None, fmt: str = "{:,.2f}") -> str:
    return "—" if value is None else fmt.format(value)


@admin.register(WalkForwardRun)
class WalkForwardRunAdmin(RecordedRunAdmin):
    route = "walk-forward-run"

    list_display = [
        "id",
        "status",
        "strategy",
        "symbol_list",
        "timeframe",
        "progress",
        "trials_count",
        "total_return",
        "sharpe",
        "dsr",
        "pbo_figure",
        "created_at",
        "report",
    ]
    exclude = ["result"]  # the whole document (curve, trades): the report shows it
    readonly_fields = ["progress", "report", "windows"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(chunks_done=Count("chunks"))

    @admin.display(description="jobs done")
    def progress(self, run: WalkForwardRun) -> str:
        progress = walk_forward_progress(run=run)
        return f"{progress['done']:,} of {progress['total']:,}" if progress["total"] else "not planned yet"

    @admin.display(description="OOS return")
    def total_return(self, run: WalkForwardRun) -> str:
        return _figure(run.total_return_pct, "{:,.2f}%")

    @admin.display(description="OOS Sharpe")
    def sharpe(self, run: WalkForwardRun) -> str:
        return _figure(run.sharpe_ratio)

    @admin.display(description="DSR")
    def dsr(self, run: WalkForwardRun) -> str:
        return _figure(run.dsr_probability, "{:.3f}")

    @admin.display(description="PBO")
    def pbo_figure(self, run: WalkForwardRun) -> str:
        return _figure(run.pbo)

    @admin.display(description="windows")
    def windows(self, run: WalkForwardRun) -> str:
        """Each window's out-of-sample span, chosen parameters and out-of-sample return."""
        if not run.result:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{} .. {}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    w["index"],
                    w["out_of_sample_start"][:10],
                    w["out_of_sample_end"][:10],
                    w["note"]
                    if w["best_parameters"] is None
                    else ", ".join(f"{k}={v}" for k, v in w["best_parameters"].items()) or "as configured",
                    _figure(w["out_of_sample_metrics"]["total_return_pct"], "{:,.2f}%"),
                )
                for w in run.result["windows"]
            ),
        )
        return format_html(
            "<table><tr><th>window</th><th>out of sample</th><th>chosen</th><th>return</th></tr>{}</table>",
            rows,
        )
