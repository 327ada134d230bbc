"""Operator pages of research runs: backtests and walk-forwards with their status and progress
(refreshing while any runs), a form that starts a backtest, a run's figures and curves, and two
runs side by side."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from rest_framework.exceptions import ValidationError

from backtests.api import BacktestRunInputSerializer, backtest_config_of, strategy_config_of
from backtests.choices import RunStatus
from backtests.filters import BacktestRunFilter, WalkForwardRunFilter
from backtests.models import BacktestRun
from backtests.selectors import backtest_run_list, walk_forward_progress, walk_forward_run_list
from backtests.services import backtest_run_create, backtest_run_enqueue
from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput
from quantsite.console import action, equity_chart, partial
from quantsite.roles import OPERATOR
from strategies.core.registry import strategy_names

ACTIVE = {RunStatus.QUEUED, RunStatus.RUNNING}
METRICS = [
    ("total_return_pct", "Return %"),
    ("cagr_pct", "CAGR %"),
    ("sharpe_ratio", "Sharpe"),
    ("sortino_ratio", "Sortino"),
    ("max_drawdown_pct", "Max drawdown %"),
    ("win_rate", "Win rate %"),
    ("total_trades", "Trades"),
    ("exposure_pct", "Exposure %"),
    ("final_equity", "Final equity"),
]


@login_required
def run_list(request):
    backtests = BacktestRunFilter(request.GET, queryset=backtest_run_list()).qs[:50]
    walk_forwards = WalkForwardRunFilter(request.GET, queryset=walk_forward_run_list()).qs[:20]
    walk_forward_rows = [(run, walk_forward_progress(run=run)) for run in walk_forwards]
    context = {
        "backtests": backtests,
        "walk_forwards": walk_forward_rows,
        "polling": any(r.status in ACTIVE for r in backtests)
        or any(r.status in ACTIVE for r, _ in walk_forward_rows),
        "strategies": strategy_names(),
        "timeframes": [t.value for t in Timeframe],
        "filters": request.GET,
    }
    template = "backtests/_run_tables.html" if partial(request) else "backtests/run_list.html"
    return render(request, template, context)


@action(OPERATOR)
def run_start(request):
    """Start a backtest from the form: the API's validation, the same service."""
    try:
        parameters = json.loads(request.POST.get("parameters") or "{}")
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"parameters must be a JSON object: {exc.msg}") from None
    data = BacktestRunInputSerializer(
        data={
            "strategy": request.POST.get("strategy", ""),
            "symbols": [s.strip().upper() for s in request.POST.get("symbols", "").split(",") if s.strip()],
            "timeframe": request.POST.get("timeframe") or "1d",
            "start": request.POST.get("start") or None,
            "end": request.POST.get("end") or None,
            "parameters": parameters,
            "initial_capital": request.POST.get("initial_capital") or "10000",
            "commission_per_trade": request.POST.get("commission_per_trade") or "0",
            "slippage_bps": request.POST.get("slippage_bps") or "0",
        }
    )
    try:
        data.is_valid(raise_exception=True)
    except ValidationError as exc:
        raise InvalidInput(_errors(exc.detail)) from None
    run = backtest_run_create(
        strategy_config=strategy_config_of(data.validated_data),
        backtest_config=backtest_config_of(data.validated_data),
        requested_by=request.user,
    )
    backtest_run_enqueue(run=run)
    messages.success(request, f"backtest #{run.pk} started")
    return redirect("run-detail", pk=run.pk)


@login_required
def run_detail(request, pk: int):
    run = get_object_or_404(BacktestRun.objects.select_related("requested_by"), pk=pk)
    context = {
        "run": run,
        "active": run.status in ACTIVE,
        "metrics": [(label, (run.metrics or {}).get(key)) for key, label in METRICS],
        "chart": _curves_chart([run]) if run.equity_curve else "",
    }
    template = "backtests/_run_status.html" if partial(request) else "backtests/run_detail.html"
    return render(request, template, context)


@login_required
def run_compare(request):
    """Two backtests side by side: ?a=<id>&b=<id>."""
    ids = [request.GET.get("a", ""), request.GET.get("b", "")]
    if not all(i.isdigit() for i in ids):
        context = {"choices": backtest_run_list().filter(status=RunStatus.DONE)[:100], "runs": []}
        return render(request, "backtests/run_compare.html", context)
    runs = [get_object_or_404(BacktestRun, pk=int(i)) for i in ids]
    rows = [(label, [(r.metrics or {}).get(key) for r in runs]) for key, label in METRICS]
    context = {"runs": runs, "rows": rows, "chart": _curves_chart(runs)}
    return render(request, "backtests/run_compare.html", context)


def _curves_chart(runs: list[BacktestRun]) -> str:
    return equity_chart(
        [
            (f"#{run.pk}", [p["ts"] for p in run.equity_curve], [p["equity"] for p in run.equity_curve])
            for run in runs
        ]
    )


def _errors(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{field}: {_errors(value)}" for field, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_errors(item) for item in detail)
    return str(detail)
