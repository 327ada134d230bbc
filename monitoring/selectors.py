"""Health checks of the platform's dependencies: database, Redis, Celery, data freshness."""

from collections.abc import Callable
from datetime import datetime

import redis
from django.conf import settings
from django.db import connection

from marketdata.selectors import data_freshness_list
from quantsite.celery import app as celery_app

OK, DEGRADED, DOWN = "ok", "degraded", "down"


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"status": OK, "detail": connection.vendor}


def _redis() -> dict:
    if not settings.REDIS_URL:
        return {"status": OK, "detail": "not configured: in-process event bus"}
    redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
    return {"status": OK, "detail": "ping answered"}


def _celery() -> dict:
    if celery_app.conf.task_always_eager:
        return {"status": OK, "detail": "no broker: tasks run in-process"}
    replies = celery_app.control.inspect(timeout=1.0).ping() or {}
    if not replies:
        return {"status": DOWN, "detail": "no worker answered"}
    return {"status": OK, "detail": f"{len(replies)} worker(s) answered", "workers": sorted(replies)}


def _freshness(now: datetime) -> dict:
    rows = data_freshness_list(as_of=now)
    stale = [f.symbol for f in rows if f.stale]
    if not rows:
        return {"status": DEGRADED, "detail": "no active US-equity instruments"}
    detail = f"{len(rows) - len(stale)} of {len(rows)} instruments up to {rows[0].expected}"
    return {"status": DEGRADED if stale else OK, "detail": detail, "stale": stale[:50]}


CHECKS: dict[str, Callable[..., dict]] = {"database": _database, "redis": _redis, "celery": _celery}


def health_get(*, now: datetime) -> dict:
    """Every check with its state; a check that raises is reported down with the error."""
    results: dict[str, dict] = {}
    for name, check in [*CHECKS.items(), ("data_freshness", lambda: _freshness(now))]:
        try:
            results[name] = check()
        except Exception as exc:  # any failure of a dependency is a health finding, not a 500
            results[name] = {"status": DOWN, "detail": f"{type(exc).__name__}: {exc}"}
    states = {r["status"] for r in results.values()}
    overall = DOWN if DOWN in states else DEGRADED if DEGRADED in states else OK
    return {"status": overall, "checked_at": now.isoformat(), "checks": results}
