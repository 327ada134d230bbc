"""Metric snapshots: each strategy version's account and each mode's accounts together (P&L of the
day and in total, equity, rolling Sharpe and Sortino of the daily equity, drawdown, win rate,
turnover, exposure), and the system's (health, data staleness per provider, brokers' latency and
error rate, Celery queues and workers, task failures), with the alerts those reveal; taken on a
schedule (and after a trading session's fills), kept METRICS_RETENTION_DAYS days."""

from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db.models import Max
from django.db.models.functions import TruncDate

from monitoring.account_selectors import (
    NEW_YORK,
    AccountFigures,
    account_figures_list,
    account_totals,
    day_start,
    trading_day,
)
from monitoring.core.figures import Drawdown, daily_ratios, drawdown_next, win_rate
from monitoring.models import Alert, MetricSnapshot, SystemSnapshot, TaskFailure, WorkerHeartbeat
from monitoring.selectors import DOWN, health_get, provider_staleness, queue_depths
from monitoring.services import alert_raise

log = structlog.get_logger(__name__)


def metric_snapshots_take(*, now: datetime, mode: str | None = None) -> list[MetricSnapshot]:
    """A snapshot of every account (of a mode, or of both) and of each mode's accounts together."""
    figures = account_figures_list(at=now, mode=mode)
    snapshots = [_snapshot(f, now) for f in [*account_totals(figures), *figures]]
    return MetricSnapshot.objects.bulk_create(snapshots)


def _snapshot(figures: AccountFigures, now: datetime) -> MetricSnapshot:
    scope = MetricSnapshot.Scope.STRATEGY if figures.version else MetricSnapshot.Scope.ACCOUNT
    earlier = MetricSnapshot.objects.filter(
        scope=scope, mode=figures.mode, strategy_version=figures.version, taken_at__lt=now
    )
    previous = earlier.order_by("-taken_at", "-id").first()
    drawdown = drawdown_next(
        previous=None
        if previous is None
        else Drawdown(float(previous.peak_equity), previous.drawdown_pct, previous.max_drawdown_pct),
        equity=float(figures.equity),
        initial_capital=float(figures.initial_capital),
    )
    ratios = daily_ratios([*_daily_equity(earlier, now), float(figures.equity)])
    return MetricSnapshot(
        taken_at=now,
        scope=scope,
        mode=figures.mode,
        strategy_version=figures.version,
        label=figures.label,
        initial_capital=figures.initial_capital,
        cash=figures.cash,
        equity=figures.equity,
        pnl_day=figures.pnl_day,
        pnl_total=figures.pnl_total,
        gross_exposure=figures.gross_exposure,
        net_exposure=figures.net_exposure,
        exposure_pct=figures.exposure_pct,
        positions=figures.positions,
        peak_equity=max(figures.equity, figures.initial_capital, previous.peak_equity if previous else 0),
        drawdown_pct=drawdown.drawdown_pct,
        max_drawdown_pct=drawdown.max_drawdown_pct,
        sharpe=ratios.sharpe,
        sortino=ratios.sortino,
        trades=len(figures.trade_pnls),
        win_rate=win_rate(figures.trade_pnls),
        fills_day=figures.fills_day,
        turnover=figures.turnover,
        unmarked=list(figures.unmarked),
    )


def _daily_equity(earlier, now: datetime) -> list[float]:
    """The equity of the last snapshot of each New York day within METRICS_ROLLING_DAYS before
    today, oldest first (today's is the one being taken)."""
    today = trading_day(now)
    window = earlier.filter(
        taken_at__gte=day_start(today - timedelta(days=settings.METRICS_ROLLING_DAYS)),
        taken_at__lt=day_start(today),
    )
    last_of_day = list(
        window.order_by()
        .annotate(day=TruncDate("taken_at", tzinfo=NEW_YORK))
        .values("day")
        .annotate(last=Max("taken_at"))
        .values_list("last", flat=True)
    )
    if not last_of_day:
        return []
    rows = (
        window.filter(taken_at__in=last_of_day).order_by("taken_at", "id").values_list("taken_at", "equity")
    )
    by_time = dict(rows)  # two snapshots at one time: the later row's
    return [float(by_time[t]) for t in sorted(by_time)]


# --- the system ----------------------------------------------------------------------------------------


def system_snapshot_take(*, now: datetime) -> SystemSnapshot:
    """The health report and the system's figures, with the alerts they call for: a broker that
    does not answer (disconnected), a Celery worker gone silent."""
    report = health_get(now=now)
    checks = report["checks"]
    workers = workers_seen(answered=checks["celery"].get("workers", []), now=now)
    brokers = _brokers_with_error_rate(checks["brokers"].get("brokers", {}), now)
    for name, probe in brokers.items():
        if probe["status"] == DOWN:
            broker_disconnect_alert(broker_mode=name, detail=probe["detail"])
    try:
        queues = queue_depths()
    except Exception as exc:  # a broker that cannot be read is in the health report already
        log.warning("queue depths unavailable", error=f"{type(exc).__name__}: {exc}")
        queues = {}
    return SystemSnapshot.objects.create(
        taken_at=now,
        status=report["status"],
        health=checks,
        data_staleness=provider_staleness(now=now),
        stale_symbols=len(checks["data_freshness"].get("stale", [])),
        brokers=brokers,
        queues=queues,
        workers=workers,
        task_failures=TaskFailure.objects.filter(
            failed_at__gt=now - timedelta(days=1), failed_at__lte=now
        ).count(),
    )


def _brokers_with_error_rate(probes: dict[str, dict], now: datetime) -> dict[str, dict]:
    """Each broker's probe now, with its error rate: the share of failed probes of the configured
    broker over the last hour of snapshots and this one."""
    failed = dict.fromkeys(probes, 0)
    total = dict.fromkeys(probes, 0)
    earlier = SystemSnapshot.objects.filter(taken_at__gte=now - timedelta(hours=1), taken_at__lt=now)
    for brokers in [*earlier.values_list("brokers", flat=True), probes]:
        for name, probe in brokers.items():
            if name in total and probe.get("detail") != "not configured":
                total[name] += 1
                failed[name] += probe.get("status") == DOWN
    return {
        name: {**probe, "error_rate": failed[name] / total[name] if total[name] else None}
        for name, probe in probes.items()
    }


def broker_disconnect_alert(*, broker_mode: str, detail: str) -> Alert:
    """A broker call failed for want of a connection (a timeout, a refused connection, a 5xx)."""
    alert, _ = alert_raise(
        severity=Alert.Severity.CRITICAL,
        source="broker",
        key=broker_mode,
        message=f"broker {broker_mode} disconnected: {detail}",
        context={"broker": broker_mode},
    )
    return alert


def workers_seen(*, answered: list[str], now: datetime) -> dict[str, dict]:
    """Record the workers that answered now; raise an alert (once per absence) for each one seen
    before that has been silent for WORKER_MISSING_SECONDS. Every worker known, with its last
    heartbeat and age."""
    for hostname in answered:
        WorkerHeartbeat.objects.update_or_create(
            hostname=hostname,
            defaults={"last_seen_at": now, "missing_alerted": False},
            create_defaults={"first_seen_at": now, "last_seen_at": now},
        )
    cutoff = now - timedelta(seconds=settings.WORKER_MISSING_SECONDS)
    for worker in WorkerHeartbeat.objects.filter(last_seen_at__lt=cutoff, missing_alerted=False):
        alert_raise(
            severity=Alert.Severity.CRITICAL,
            source="worker_heartbeat",
            key=worker.hostname,
            message=f"Celery worker {worker.hostname} is missing: no heartbeat since "
            f"{worker.last_seen_at:%Y-%m-%d %H:%M:%S} UTC",
            context={"worker": worker.hostname, "last_seen_at": worker.last_seen_at.isoformat()},
        )
        worker.missing_alerted = True
        worker.save(update_fields=["missing_alerted"])
    return {
        w.hostname: {
            "last_seen_at": w.last_seen_at.isoformat(),
            "age_seconds": (now - w.last_seen_at).total_seconds(),
        }
        for w in WorkerHeartbeat.objects.all()
    }


def snapshots_prune(*, now: datetime) -> dict[str, int]:
    """Delete metric and system snapshots and task failures older than METRICS_RETENTION_DAYS."""
    cutoff = now - timedelta(days=settings.METRICS_RETENTION_DAYS)
    return {
        "metric_snapshots": MetricSnapshot.objects.filter(taken_at__lt=cutoff).delete()[0],
        "system_snapshots": SystemSnapshot.objects.filter(taken_at__lt=cutoff).delete()[0],
        "task_failures": TaskFailure.objects.filter(failed_at__lt=cutoff).delete()[0],
    }
