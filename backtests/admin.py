from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from backtests.choices import RunStatus
from backtests.models import BacktestRun
from marketdata.admin import ReadOnlyAdmin


def _metric(run: BacktestRun, key: str, suffix: str = "") -> str:
    value = (run.metrics or {}).get(key)
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}{suffix}"


@admin.register(BacktestRun)
class BacktestRunAdmin(ReadOnlyAdmin):
    """Runs are started from the CLI or the API; here they are looked at, never edited."""

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
    list_filter = ["status", "strategy", "timeframe", "source"]
    search_fields = ["strategy"]
    list_select_related = ["requested_by"]
    exclude = ["equity_curve", "trades"]  # thousands of points: the report shows them
    readonly_fields = ["report"]

    @admin.display(description="symbols")
    def symbol_list(self, run: BacktestRun) -> str:
        return ", ".join(run.symbols)

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

    @admin.display(description="report")
    def report(self, run: BacktestRun) -> str:
        if run.status != RunStatus.DONE or not run.report_path:
            return "—"
        return format_html('<a href="{}">HTML report</a>', reverse("backtest-run-report", args=[run.pk]))
