"""Health API: each dependency's state, and the overall verdict."""

from datetime import UTC, datetime
from unittest import mock

import pytest

from marketdata.core.bars import Timeframe, bar_frame
from marketdata.models import Instrument
from marketdata.services import bars_upsert
from monitoring.selectors import health_get

pytestmark = pytest.mark.django_db

MONDAY_EVENING = datetime(2024, 1, 8, 23, 0, tzinfo=UTC)


def store_daily(symbol: str, days: list[int]) -> None:
    instrument = Instrument.objects.create(symbol=symbol)
    ts = [datetime(2024, 1, d, tzinfo=UTC) for d in days]
    n = len(ts)
    bars_upsert(
        instrument=instrument,
        timeframe=Timeframe.D1,
        bars=bar_frame(ts, [10] * n, [11] * n, [9] * n, [10.5] * n, [100] * n),
        source="t",
    )


def test_fresh_data_and_reachable_services_are_ok(settings):
    settings.REDIS_URL = ""
    store_daily("AAA", [5, 8])

    report = health_get(now=MONDAY_EVENING)

    assert report["status"] == "ok"
    assert report["checks"]["data_freshness"] == {
        "status": "ok",
        "detail": "1 of 1 instruments up to 2024-01-08",
        "stale": [],
    }
    assert report["checks"]["celery"] == {"status": "ok", "detail": "no broker: tasks run in-process"}


def test_stale_symbols_degrade_health(settings):
    settings.REDIS_URL = ""
    store_daily("AAA", [5, 8])
    store_daily("BBB", [4, 5])

    report = health_get(now=MONDAY_EVENING)

    assert report["status"] == "degraded"
    assert report["checks"]["data_freshness"]["stale"] == ["BBB"]


def test_an_unreachable_redis_is_reported_down_not_raised(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    store_daily("AAA", [5, 8])

    report = health_get(now=MONDAY_EVENING)

    assert report["status"] == "down"
    assert report["checks"]["redis"]["status"] == "down"
    assert report["checks"]["redis"]["detail"].startswith("ConnectionError")


def test_health_api_answers_503_when_a_dependency_is_down(client_as):
    with mock.patch("monitoring.api.health_get", return_value={"status": "down", "checks": {}}):
        response = client_as("viewer").get("/api/v1/health/")

    assert (response.status_code, response.json()["status"]) == (503, "down")


@pytest.mark.redis
def test_real_redis_answers_ping(settings):
    store_daily("AAA", [5, 8])

    report = health_get(now=MONDAY_EVENING)

    assert report["checks"]["redis"] == {"status": "ok", "detail": "ping answered"}
