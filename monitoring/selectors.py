"""Reads of monitoring: health checks of the platform's dependencies (database, Redis, Celery workers,
beat, data freshness, brokers), the system figures a snapshot keeps (queues, data staleness per
provider), and the querysets the API and the pages list."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db import connection
from django.db.models import Max, OuterRef, Q, QuerySet, Subquery
from django_celery_beat.models import PeriodicTask

from execution.brokers import broker_client_build
from execution.choices import BrokerName, TradingMode
from marketdata.choices import RunStatus
from marketdata.core.errors import ApplicationError, ProviderNotConfigured
from marketdata.models import IngestionRun
from marketdata.selectors import data_freshness_list
from monitoring.choices import HealthStatus
from monitoring.models import Alert, DailySummary, MetricSnapshot, SystemSnapshot, WorkerHeartbeat
from quantsite.celery import QUEUES
from quantsite.celery import app as celery_app

OK, DEGRADED, DOWN = HealthStatus.OK.value, HealthStatus.DEGRADED.value, HealthStatus.DOWN.value
REAL_BROKERS = [(b, m) for b in (BrokerName.ALPACA, BrokerName.IB) for m in TradingMode.values]


def _database(now: datetime) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"status": OK, "detail": connection.vendor}


def _redis(now: datetime) -> dict:
    if not settings.REDIS_URL:
        return {"status": OK, "detail": "not configured: in-process event bus"}
    redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
    return {"status": OK, "detail": "ping answered"}


def workers_ping() -> list[str]:
    """The Celery workers that answer a ping within a second."""
    return sorted(celery_app.control.inspect(timeout=1.0).ping() or {})


def _celery(now: datetime) -> dict:
    """The workers answering now, and those seen before (WorkerHeartbeat) that no longer do."""
    if celery_app.conf.task_always_eager:
        return {"status": OK, "detail": "no broker: tasks run in-process"}
    answered = workers_ping()
    missing = sorted(
        WorkerHeartbeat.objects.exclude(hostname__in=answered)
        .filter(last_seen_at__lt=now - timedelta(seconds=settings.WORKER_MISSING_SECONDS))
        .values_list("hostname", flat=True)
    )
    if not answered:
        return {"status": DOWN, "detail": "no worker answered", "workers": [], "missing": missing}
    detail = f"{len(answered)} worker(s) answered" + (f"; missing: {', '.join(missing)}" if missing else "")
    return {"status": DEGRADED if missing else OK, "detail": detail, "workers": answered, "missing": missing}


def _beat(now: datetime) -> dict:
    """django-celery-beat records when it last ran each schedule: none for BEAT_STALE_SECONDS is
    down (the every-minute schedules should have run many times)."""
    if celery_app.conf.task_always_eager:
        return {"status": OK, "detail": "no broker: schedules do not run"}
    last = PeriodicTask.objects.filter(enabled=True).aggregate(last=Max("last_run_at"))["last"]
    if last is None:
        return {"status": DOWN, "detail": "beat has not run any schedule"}
    age = (now - last).total_seconds()
    status = DOWN if age > settings.BEAT_STALE_SECONDS else OK
    return {"status": status, "detail": f"last schedule run {age:.0f} s ago", "last_run_at": last.isoformat()}


@dataclass(frozen=True)
class Probe:
    status: str
    detail: str
    latency_ms: float | None = None


def broker_probe(broker: str, mode: str, *, timeout: float) -> Probe:
    """Ask a broker for its account (get_account), waiting timeout seconds at most; a broker with no
    keys or host set is "not configured" (ok: nothing trades through it)."""
    try:
        client = broker_client_build(broker=broker, mode=mode, capital=0.0)
    except ProviderNotConfigured:
        return Probe(OK, "not configured")
    outcome: list = []

    def ask() -> None:
        started = time.monotonic()
        try:
            client.get_account()
        except Exception as exc:  # any failure of the call is the finding
            outcome.append(exc)
        else:
            outcome.append((time.monotonic() - started) * 1000.0)
        finally:
            close = getattr(client, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=ask, name=f"probe-{broker}-{mode}", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        return Probe(DOWN, f"no answer within {timeout:g} s")
    if isinstance(outcome[0], BaseException):
        exc = outcome[0]
        message = exc.message if isinstance(exc, ApplicationError) else f"{type(exc).__name__}: {exc}"
        return Probe(DOWN, message)
    return Probe(OK, f"account answered in {outcome[0]:.0f} ms", round(outcome[0], 1))


def brokers_probe() -> dict[str, Probe]:
    """Each real broker in each mode, "broker:mode" -> its probe (in parallel)."""
    timeout = settings.BROKER_HEALTH_TIMEOUT_SECONDS
    results: dict[str, Probe] = {}

    def run(broker: str, mode: str) -> None:
        results[f"{broker}:{mode}"] = broker_probe(broker, mode, timeout=timeout)

    threads = [threading.Thread(target=run, args=pair, daemon=True) for pair in REAL_BROKERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 1)
    return {f"{b}:{m}": results.get(f"{b}:{m}", Probe(DOWN, "probe did not finish")) for b, m in REAL_BROKERS}


def _brokers(now: datetime) -> dict:
    probes = brokers_probe()
    down = [name for name, p in probes.items() if p.status == DOWN]
    configured = [name for name, p in probes.items() if p.detail != "not configured"]
    if not configured:
        detail = "no real broker configured (paper trading on the simulated broker)"
    else:
        detail = f"{len(configured) - len(down)} of {len(configured)} configured broker(s) answered"
    return {
        "status": DOWN if down else OK,
        "detail": detail,
        "brokers": {
            name: {"status": p.status, "detail": p.detail, "latency_ms": p.latency_ms}
            for name, p in probes.items()
        },
    }


def _freshness(now: datetime) -> dict:
    rows = data_freshness_list(as_of=now)
    stale = [f.symbol for f in rows if f.stale]
    if not rows:
        return {"status": DEGRADED, "detail": "no active US-equity instruments"}
    detail = f"{len(rows) - len(stale)} of {len(rows)} instruments up to {rows[0].expected}"
    return {"status": DEGRADED if stale else OK, "detail": detail, "stale": stale[:50]}


CHECKS: dict[str, Callable[[datetime], dict]] = {
    "database": _database,
    "redis": _redis,
    "celery": _celery,
    "beat": _beat,
    "brokers": _brokers,
    "data_freshness": _freshness,
}


def health_get(*, now: datetime, only: str | None = None) -> dict:
    """Every check (or only the one named) with its state; a check that raises is reported down with
    the error."""
    results: dict[str, dict] = {}
    for name, check in CHECKS.items() if only is None else [(only, CHECKS[only])]:
        try:
            results[name] = check(now)
        except Exception as exc:  # any failure of a dependency is a health finding, not a 500
            results[name] = {"status": DOWN, "detail": f"{type(exc).__name__}: {exc}"}
    return {"status": health_verdict(results), "checked_at": now.isoformat(), "checks": results}


def health_verdict(checks: dict[str, dict]) -> str:
    states = {c["status"] for c in checks.values()}
    return DOWN if DOWN in states else DEGRADED if DEGRADED in states else OK


# --- system figures ------------------------------------------------------------------------------


def queue_depths(connection_factory: Callable | None = None) -> dict[str, int]:
    """Messages waiting in each Celery queue ({} without a broker). A queue the broker does not
    know yet (Redis drops an empty list) holds none."""
    if connection_factory is None:
        if celery_app.conf.task_always_eager:
            return {}
        connection_factory = celery_app.connection_for_read
    depths = {}
    with connection_factory() as conn:
        channel = conn.default_channel
        for queue in QUEUES:
            try:
                depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
            except conn.channel_errors:
                depths[queue] = 0
    return depths


def provider_staleness(*, now: datetime) -> dict[str, dict]:
    """Per market-data provider: its last successful ingestion, how long ago, and its latest run's
    status (a failed one shows here before the data goes stale)."""
    latest = IngestionRun.objects.filter(provider=OuterRef("provider")).order_by("-created_at")
    rows = (
        IngestionRun.objects.values("provider")
        .annotate(
            last_success=Max("finished_at", filter=Q(status__in=[RunStatus.SUCCEEDED, RunStatus.PARTIAL])),
            last_status=Subquery(latest.values("status")[:1]),
        )
        .order_by("provider")
    )
    return {
        row["provider"]: {
            "last_success": row["last_success"].isoformat() if row["last_success"] else None,
            "age_seconds": (now - row["last_success"]).total_seconds() if row["last_success"] else None,
            "last_status": row["last_status"],
        }
        for row in rows
    }


# --- lists -----------------------------------------------------------------------------------------


def alert_list() -> QuerySet[Alert]:
    """Alerts with the people who acknowledged and resolved them, and their delivery attempts."""
    return Alert.objects.select_related("acknowledged_by", "resolved_by").prefetch_related("deliveries")


def metric_snapshot_list() -> QuerySet[MetricSnapshot]:
    return MetricSnapshot.objects.all()


def metric_snapshots_latest() -> list[MetricSnapshot]:
    """The latest snapshot stored of each scope (each mode's account, each strategy version), in
    one query: the accounts first, then by mode and label."""
    latest = (
        MetricSnapshot.objects.order_by()
        .values("scope", "mode", "strategy_version")
        .annotate(last=Max("id"))
        .values("last")
    )
    rows = MetricSnapshot.objects.filter(pk__in=Subquery(latest))
    return sorted(rows, key=lambda s: (s.scope != MetricSnapshot.Scope.ACCOUNT, s.mode, s.label))


def system_snapshot_latest() -> SystemSnapshot | None:
    return SystemSnapshot.objects.first()


def metrics_summary_get() -> dict:
    """The latest snapshot of each mode's accounts and of each strategy version, the latest system
    snapshot, and the alerts not resolved by severity."""
    latest = metric_snapshots_latest()
    open_alerts = dict.fromkeys(Alert.Severity.values, 0)
    for severity in Alert.objects.filter(resolved=False).values_list("severity", flat=True):
        open_alerts[severity] += 1
    return {
        "accounts": [s for s in latest if s.scope == MetricSnapshot.Scope.ACCOUNT],
        "strategies": [s for s in latest if s.scope == MetricSnapshot.Scope.STRATEGY],
        "system": system_snapshot_latest(),
        "open_alerts": open_alerts,
    }


def system_snapshot_list() -> QuerySet[SystemSnapshot]:
    return SystemSnapshot.objects.all()


def daily_summary_list() -> QuerySet[DailySummary]:
    return DailySummary.objects.prefetch_related("deliveries")
