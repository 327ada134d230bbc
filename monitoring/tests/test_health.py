"""Health: each dependency's state (database, Redis, Celery workers, beat, brokers, data
freshness) and the overall verdict; the system snapshot that keeps them with the system's figures."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from kombu import Connection, Exchange, Queue

from execution.tests.fake_alpaca import KEY, SECRET, FakeAlpaca
from marketdata.core.bars import Timeframe, bar_frame
from marketdata.models import IngestionRun, Instrument
from marketdata.services import bars_upsert
from monitoring.models import Alert, WorkerHeartbeat
from monitoring.selectors import _beat, _brokers, _celery, broker_probe, health_get, queue_depths
from monitoring.snapshot_services import system_snapshot_take
from quantsite.celery import app as celery_app

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


def test_every_check_is_reported_with_its_finding(settings):
    settings.REDIS_URL = ""
    store_daily("AAA", [5, 8])

    report = health_get(now=MONDAY_EVENING)

    assert {name: check["status"] for name, check in report["checks"].items()} == {
        "database": "ok",
        "redis": "ok",
        "celery": "ok",
        "beat": "ok",
        "brokers": "ok",
        "data_freshness": "ok",
    }
    assert report["checks"]["beat"]["detail"] == "no broker: schedules do not run"
    assert (
        report["checks"]["brokers"]["detail"]
        == "no real broker configured (paper trading on the simulated broker)"
    )
    assert report["checks"]["brokers"]["brokers"]["ib:live"] == {
        "status": "ok",
        "detail": "not configured",
        "latency_ms": None,
    }


@pytest.fixture
def with_broker():
    """As with a Celery broker: tasks are sent, not run in-process (the checks that need a broker
    then look at workers and beat)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = before


def periodic(name: str, last_run_at: datetime | None, enabled: bool = True) -> None:
    every, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.create(
        name=name, task=f"x.{name}", interval=every, last_run_at=last_run_at, enabled=enabled
    )


def test_beat_is_down_when_no_schedule_ran_recently(with_broker, settings):
    settings.BEAT_STALE_SECONDS = 600
    assert _beat(MONDAY_EVENING) == {"status": "down", "detail": "beat has not run any schedule"}

    periodic("sessions", MONDAY_EVENING - timedelta(seconds=700))
    periodic("paused", MONDAY_EVENING - timedelta(seconds=10), enabled=False)
    assert _beat(MONDAY_EVENING)["status"] == "down"

    periodic("snapshots", MONDAY_EVENING - timedelta(seconds=120))
    assert _beat(MONDAY_EVENING) == {
        "status": "ok",
        "detail": "last schedule run 120 s ago",
        "last_run_at": "2024-01-08T22:58:00+00:00",
    }


def test_workers_that_answer_and_known_ones_that_went_silent(with_broker, settings):
    settings.WORKER_MISSING_SECONDS = 300
    WorkerHeartbeat.objects.create(
        hostname="trading@b",
        first_seen_at=MONDAY_EVENING,
        last_seen_at=MONDAY_EVENING - timedelta(seconds=400),
    )
    with mock.patch("monitoring.selectors.workers_ping", return_value=["celery@a"]):
        degraded = _celery(MONDAY_EVENING)
    with mock.patch("monitoring.selectors.workers_ping", return_value=[]):
        down = _celery(MONDAY_EVENING)

    assert degraded == {
        "status": "degraded",
        "detail": "1 worker(s) answered; missing: trading@b",
        "workers": ["celery@a"],
        "missing": ["trading@b"],
    }
    assert (down["status"], down["detail"]) == ("down", "no worker answered")


@pytest.fixture(scope="module")
def alpaca_server():
    server = FakeAlpaca().start()
    yield server
    server.stop()


@pytest.fixture
def alpaca(alpaca_server, settings):
    alpaca_server.reset()
    settings.ALPACA_PAPER_API_KEY, settings.ALPACA_PAPER_API_SECRET = KEY, SECRET
    settings.ALPACA_TRADING_URL = alpaca_server.url
    yield alpaca_server
    alpaca_server.release()


def test_a_configured_broker_is_asked_for_its_account_and_a_failing_one_is_down(alpaca, settings):
    ok = broker_probe("alpaca", "paper", timeout=5)
    alpaca.fail_next(500)
    failed = broker_probe("alpaca", "paper", timeout=5)
    settings.BROKER_HEALTH_TIMEOUT_SECONDS = 0.2
    alpaca.hang_next()
    report = _brokers(MONDAY_EVENING)

    assert (ok.status, ok.detail.startswith("account answered in "), ok.latency_ms > 0) == ("ok", True, True)
    assert (failed.status, failed.detail) == (
        "down",
        "Alpaca failed on account: HTTP 500: internal server error occurred; the outcome is unknown",
    )
    assert report["status"] == "down"
    assert report["detail"] == "0 of 1 configured broker(s) answered"
    assert report["brokers"]["alpaca:paper"] == {
        "status": "down",
        "detail": "no answer within 0.2 s",
        "latency_ms": None,
    }
    assert broker_probe("alpaca", "live", timeout=5).detail == "not configured"


def test_a_system_snapshot_keeps_the_figures_and_alerts_a_disconnected_broker(alpaca, settings):
    settings.REDIS_URL = ""
    store_daily("AAA", [5, 8])
    IngestionRun.objects.create(
        provider="synthetic",
        timeframe="1d",
        status="succeeded",
        finished_at=MONDAY_EVENING - timedelta(hours=1),
    )
    IngestionRun.objects.create(
        provider="synthetic", timeframe="1d", status="failed", finished_at=MONDAY_EVENING
    )
    first = system_snapshot_take(now=MONDAY_EVENING - timedelta(minutes=5))
    alpaca.fail_next(503)

    second = system_snapshot_take(now=MONDAY_EVENING)

    assert (first.status, first.brokers["alpaca:paper"]["error_rate"]) == ("ok", 0.0)
    assert second.status == "down"
    assert second.brokers["alpaca:paper"]["status"] == "down"
    assert second.brokers["alpaca:paper"]["error_rate"] == 0.5  # one of the two probes of the hour
    assert second.brokers["ib:paper"] == {
        "status": "ok",
        "detail": "not configured",
        "latency_ms": None,
        "error_rate": None,
    }
    assert second.data_staleness == {
        "synthetic": {
            "last_success": "2024-01-08T22:00:00+00:00",
            "age_seconds": 3600.0,
            "last_status": "failed",
        }
    }
    assert (second.queues, second.workers, second.task_failures, second.stale_symbols) == ({}, {}, 0, 0)
    (alert,) = Alert.objects.all()
    assert (alert.severity, alert.source, alert.key) == ("critical", "broker", "alpaca:paper")
    assert alert.message == (
        "broker alpaca:paper disconnected: Alpaca failed on account: HTTP 503: internal server error "
        "occurred; the outcome is unknown"
    )


def test_queue_depths_are_read_from_the_broker():
    queue = Queue("backtests", Exchange("backtests"), routing_key="backtests")
    with Connection("memory://") as conn:
        for n in range(3):
            conn.Producer().publish(
                {"n": n}, exchange=queue.exchange, routing_key="backtests", declare=[queue]
            )
    try:
        depths = queue_depths(lambda: Connection("memory://"))
    finally:
        with Connection("memory://") as conn:
            conn.default_channel.queue_purge("backtests")

    assert depths == {
        "ingestion": 0,
        "features": 0,
        "training": 0,
        "backtests": 3,
        "execution": 0,
        "monitoring": 0,
    }
    assert queue_depths() == {}  # no broker: tasks run in-process
