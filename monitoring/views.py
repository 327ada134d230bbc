"""Pages and plain views of monitoring."""

from django.contrib.auth.decorators import login_required
from django.db.models import Max
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from marketdata.models import PriceBar
from monitoring.account_selectors import account_figures_list, account_totals
from monitoring.models import MetricSnapshot, TaskFailure, WorkerHeartbeat
from monitoring.selectors import (
    alert_list,
    health_get,
    metric_snapshot_list,
    queue_depths,
    system_snapshot_latest,
)
from quantsite.console import equity_chart, partial
from risk.models import GLOBAL
from risk.selectors import effective_state, trading_state_records_get


@never_cache
@require_GET
def healthz(request) -> JsonResponse:
    """Liveness for a load balancer or an orchestrator: the process answers. Unauthenticated, and so
    it tells nothing more; the details are at /api/v1/health/ (a viewer's)."""
    return JsonResponse({"status": "ok"})


@login_required
def overview(request):
    """Equity and P&L today per mode, open positions, exposure, open alerts, the trading state and
    the last data update: figures read live from the OMS tables at each refresh (every 5 s); the
    equity and drawdown curves from the stored account snapshots."""
    now = timezone.now()
    figures = account_totals(account_figures_list(at=now))
    records = trading_state_records_get()
    context = {
        "accounts": figures,
        "platform_state": effective_state(records, GLOBAL),
        "alerts": alert_list().filter(resolved=False)[:10],
        "open_alerts": alert_list().filter(resolved=False).count(),
        "last_bar": PriceBar.objects.aggregate(last=Max("ts"))["last"],
        "checked_at": now,
    }
    if partial(request):
        return render(request, "monitoring/_overview_figures.html", context)
    context["chart"] = _account_chart()
    return render(request, "monitoring/overview.html", context)


@login_required
def system_health(request):
    """Each health check with its state and age, the queues, the workers, recent task failures."""
    now = timezone.now()
    try:
        queues, queues_error = queue_depths(), ""
    except Exception as exc:  # a broker that cannot answer is a finding of this page, not a 500
        queues, queues_error = {}, f"{type(exc).__name__}: {exc}"
    context = {
        "health": health_get(now=now),
        "queues": queues,
        "queues_error": queues_error,
        "workers": WorkerHeartbeat.objects.order_by("hostname"),
        "failures": TaskFailure.objects.order_by("-failed_at")[:20],
        "system": system_snapshot_latest(),
        "checked_at": now,
    }
    template = "monitoring/_health.html" if partial(request) else "monitoring/health.html"
    return render(request, template, context)


def _account_chart() -> str:
    """Each mode's account equity and drawdown from its latest 4,000 account snapshots."""
    snapshots = metric_snapshot_list().filter(scope=MetricSnapshot.Scope.ACCOUNT).order_by("-taken_at")[:4000]
    by_mode: dict[str, list[MetricSnapshot]] = {}
    for snapshot in reversed(list(snapshots)):
        by_mode.setdefault(snapshot.mode, []).append(snapshot)
    if not by_mode:
        return ""
    return equity_chart(
        [
            (mode, [r.taken_at for r in rows], [float(r.equity) for r in rows])
            for mode, rows in by_mode.items()
        ]
    )
