"""Each place that raises an alert where it detects its condition: the kill switch, the circuit
breakers of a trading session, reconciliation, a broker that cannot be reached, a lost trading
session, stale data, a failed task, the risk manager refusing too often, a silent Celery worker."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from celery import Celery
from django.core.cache import cache

from execution.core.brokers.base import BrokerPosition, BrokerUnavailable
from execution.models import TradingSessionRecord
from execution.reconciliation_services import reconcile, reconcile_all
from execution.services import account_open
from execution.session_services import session_claim, sessions_lost_mark
from execution.trading_services import TradingSession, replay_bars
from marketdata.core.bars import Timeframe
from marketdata.core.errors import ProviderNotConfigured
from marketdata.core.providers.synthetic import SyntheticProvider
from marketdata.tasks import check_data_freshness_task
from monitoring.models import Alert, MetricSnapshot, TaskFailure, WorkerHeartbeat
from monitoring.services import breakers_alert, risk_refusals_check
from monitoring.snapshot_services import workers_seen
from monitoring.tests.conftest import daily_bars, frozen, ny
from quantsite.audit import audit
from risk.core.manager import PolicyRiskManager
from risk.core.state import TradingState
from risk.services import kill_switch_engage
from strategies.core.config import Sizing, StrategyConfig
from strategies.lifecycle_services import strategy_version_create

pytestmark = pytest.mark.django_db


def alerts() -> list[tuple]:
    return list(
        Alert.objects.order_by("id").values_list("severity", "source", "key", "message", "occurrences")
    )


def test_the_kill_switch_raises_a_critical_alert_and_engaging_it_again_is_the_same_alert(people):
    kill_switch_engage(reason="runaway orders", by=people["rita"])
    kill_switch_engage(reason="still running away", by=people["ray"], flatten=True)

    assert alerts() == [
        ("critical", "kill_switch", "global", "kill switch engaged on the platform: still running away", 2)
    ]
    assert Alert.objects.get().context == {"scope": "global", "by": "ray", "flatten": True}


def test_a_strategy_kill_switch_names_its_version(people, version):
    kill_switch_engage(reason="odd fills", by=people["rita"], version=version)

    assert alerts() == [
        (
            "critical",
            "kill_switch",
            f"version:{version.pk}",
            "kill switch engaged on watched v1: odd fills",
            1,
        )
    ]
    assert Alert.objects.get().context["version"] == version.pk


def test_the_drawdown_kill_switch_and_the_daily_loss_limit_of_a_risk_manager_raise_alerts(version):
    risk = PolicyRiskManager()  # level 6: daily loss 2.2%, drawdown 9.8%
    risk.on_step(datetime(2024, 1, 8, 15, tzinfo=UTC), 10_000.0, new_session=True)
    risk.on_step(datetime(2024, 1, 8, 16, tzinfo=UTC), 9_700.0, new_session=False)

    reducing = breakers_alert(
        version=version,
        mode="paper",
        before=TradingState.ACTIVE,
        after=risk.breaker_state,
        reason=risk.halted_reason,
    )
    risk.on_step(datetime(2024, 1, 9, 15, tzinfo=UTC), 8_900.0, new_session=True)
    halted = breakers_alert(
        version=version,
        mode="paper",
        before=TradingState.REDUCING,
        after=risk.breaker_state,
        reason=risk.halted_reason,
    )

    assert (reducing.severity, reducing.key) == ("warning", f"version:{version.pk}:paper:daily_loss")
    assert reducing.message.startswith("watched v1 (paper) is REDUCING: The loss since the session's start")
    assert (halted.severity, halted.key) == ("critical", f"version:{version.pk}:paper:drawdown")
    assert halted.message == (
        "watched v1 (paper) is HALTED: Equity 8,900.00 is 11% below its peak 10,000.00, beyond the 8.889% "
        "drawdown limit: trading is halted until a person resets it."
    )
    assert (
        breakers_alert(
            version=version, mode="paper", before=TradingState.HALTED, after=TradingState.REDUCING, reason=""
        )
        is None
    )


FILLED = 9  # orders filled in the first 120 bars of 2023 (seed 7)
SESSION_CONFIG = StrategyConfig(
    strategy="momentum",
    name="alerting",
    universe=["AAA"],
    parameters={"fast": 5, "slow": 20},
    sizing=Sizing(mode="notional", value=120),
)
BARS = SyntheticProvider(seed=7).get_bars(
    "AAA", datetime(2022, 1, 1, tzinfo=UTC), datetime(2023, 12, 29, tzinfo=UTC), Timeframe.D1
)


def test_a_trading_session_whose_breaker_trips_alerts_and_its_fills_take_one_snapshot(
    promoted, settings, django_capture_on_commit_callbacks
):
    settings.METRICS_AFTER_FILLS_SECONDS = 3600
    cache.delete("monitoring:after-fills:paper")  # another test's snapshot must not hold this one back
    version = promoted(SESSION_CONFIG)
    history, steps = replay_bars({"AAA": BARS}, datetime(2023, 1, 2, tzinfo=UTC))
    session = TradingSession(
        version=version, mode="paper", broker="simulated", capital=Decimal(10_000), history=history
    )

    with django_capture_on_commit_callbacks(execute=True):
        for step in steps[:120]:
            session.on_bars(step)
    session.risk.restore(peak_equity=20_000.0, session_start_equity=20_000.0)  # as if it had lost half
    session.on_bars(steps[120])

    assert version.orders.filter(status="filled").count() == FILLED
    assert list(MetricSnapshot.objects.order_by("id").values_list("scope", "strategy_version_id")) == [
        ("account", None),
        ("strategy", version.pk),
    ]
    (alert,) = Alert.objects.filter(source="circuit_breaker")
    assert (alert.severity, alert.key) == ("critical", f"version:{version.pk}:paper:drawdown")
    assert alert.message.startswith("alerting v1 (paper) is HALTED: Equity ")


@pytest.fixture
def alpaca_version(user):
    version = strategy_version_create(
        config=StrategyConfig(strategy="momentum", name="rec", universe=["AAPL"]), created_by=user
    )
    account_open(version=version, mode="paper", broker="alpaca", capital=Decimal(100_000))
    return version


class Broker:
    """A broker client answering reconciliation's two questions."""

    def __init__(self, positions=(), failure: Exception | None = None) -> None:
        self.positions, self.failure = list(positions), failure

    def get_order(self, client_order_id):
        return None

    def get_positions(self):
        if self.failure:
            raise self.failure
        return self.positions


def test_a_reconciliation_mismatch_raises_a_critical_alert(alpaca_version):
    reconcile(
        broker="alpaca", mode="paper", client=Broker([BrokerPosition("AAPL", Decimal(5), Decimal(190))])
    )

    assert alerts() == [
        (
            "critical",
            "reconciliation",
            "alpaca:paper",
            "reconciliation with alpaca (paper): positions differ from the broker's: AAPL: local 0, "
            "broker 5; halted: rec v1",
            1,
        )
    ]
    assert Alert.objects.get().context == {"broker": "alpaca", "mode": "paper", "halted": [alpaca_version.pk]}


def test_a_broker_that_cannot_be_reached_raises_a_disconnect_alert_beside_reconciliation_s(alpaca_version):
    reconcile(broker="alpaca", mode="paper", client=Broker(failure=BrokerUnavailable("connection reset")))

    assert [(s, src, k) for s, src, k, *_ in alerts()] == [
        ("critical", "broker", "alpaca:paper"),
        ("critical", "reconciliation", "alpaca:paper"),
    ]
    assert Alert.objects.get(source="broker").message == "broker alpaca:paper disconnected: connection reset"


def test_a_broker_without_a_client_is_a_reconciliation_alert(alpaca_version):
    def no_client(broker, mode):
        raise ProviderNotConfigured("paper trading through Alpaca needs ALPACA_PAPER_API_KEY")

    reconcile_all(client_for=no_client)

    assert alerts()[0][1:3] == ("reconciliation", "alpaca:paper")


def test_a_lost_trading_session_raises_a_critical_alert(promoted):
    version = promoted(SESSION_CONFIG, "paper")
    record = session_claim(version=version, mode="paper", broker="simulated", host="worker-1:42")

    sessions_lost_mark(now=record.beat_at + timedelta(seconds=91))

    record.refresh_from_db()
    assert alerts() == [
        (
            "critical",
            "trading_session",
            f"version:{version.pk}:paper",
            f"the paper trading session of alerting v1 was lost: {record.reason}; "
            "the next schedule starts another",
            1,
        )
    ]
    assert record.status == TradingSessionRecord.Status.LOST


def test_stale_daily_data_raises_a_warning_while_any_stays_stale():
    daily_bars("AAA", {"2024-01-05": 10, "2024-01-08": 11})
    daily_bars("BBB", {"2024-01-04": 10, "2024-01-05": 11})

    with frozen(datetime(2024, 1, 8, 23, tzinfo=UTC)):
        stale = check_data_freshness_task()
        check_data_freshness_task()

    assert stale == ["BBB"]
    assert alerts() == [
        ("warning", "data_freshness", "1d", "1 of 2 instruments have no daily bar for 2024-01-08: BBB", 2)
    ]


# Tasks of an app of their own (the project's app lists only the project's tasks), run as a worker
# runs them: a failure is the task's result, not raised in the caller, and Celery sends task_failure.
workers = Celery("monitoring-tests", set_as_current=False)
workers.conf.task_always_eager = True
workers.conf.task_eager_propagates = False


@workers.task(queue="backtests", name="backtests.tasks.exploding_task", shared=False)
def exploding_backtest_task(run_id: int) -> None:
    raise ValueError(f"run {run_id} exploded")


@workers.task(queue="execution", name="execution.tasks.exploding_task", shared=False)
def exploding_session_task() -> None:
    raise RuntimeError("the session died")


def test_a_failed_task_is_recorded_and_alerted_critical_on_the_execution_queue():
    results = [
        exploding_backtest_task.delay(7),
        exploding_backtest_task.delay(8),
        exploding_session_task.delay(),
    ]

    name = "backtests.tasks.exploding_task"
    assert list(
        TaskFailure.objects.order_by("id").values_list("task", "queue", "exception", "message", "args")
    ) == [
        (name, "backtests", "ValueError", "run 7 exploded", [7]),
        (name, "backtests", "ValueError", "run 8 exploded", [8]),
        (
            "execution.tasks.exploding_task",
            "execution",
            "RuntimeError",
            "the session died",
            [],
        ),
    ]
    assert [r.state for r in results] == ["FAILURE"] * 3
    assert (
        'raise ValueError(f"run {run_id} exploded")' in TaskFailure.objects.order_by("id").first().traceback
    )
    assert [(s, src, k, n) for s, src, k, _, n in alerts()] == [
        ("warning", "task", name, 2),
        ("critical", "task", "execution.tasks.exploding_task", 1),
    ]
    assert Alert.objects.get(key=name).message == f"task {name} failed: ValueError: run 8 exploded"


def test_risk_refusals_above_the_rate_raise_a_warning(version, settings):
    settings.RISK_REFUSALS_ALERT, settings.RISK_REFUSALS_WINDOW_MINUTES = 3, 60
    now = ny(2024, 1, 8, 12)
    for minutes, codes in [(90, ["max_positions"]), (50, ["buying_power"]), (20, ["buying_power"])]:
        with frozen(now - timedelta(minutes=minutes)):
            audit(actor=None, action="order.refused", subject=version, summary="buy 10 AAA: ...", codes=codes)

    assert risk_refusals_check(now=now) == []  # two within the hour
    with frozen(now - timedelta(minutes=5)):
        audit(
            actor=None,
            action="order.refused",
            subject=version,
            summary="buy 10 AAA: ...",
            codes=["buying_power", "max_positions"],
        )
    (alert,) = risk_refusals_check(now=now)

    assert (alert.severity, alert.source, alert.key, alert.message) == (
        "warning",
        "risk_refusals",
        f"version:{version.pk}",
        "3 orders of watched v1 refused by the risk manager in the last 60 minutes (alert at 3): "
        "buying_power 3, max_positions 1",
    )


def test_a_silent_worker_raises_one_alert_per_absence(settings):
    settings.WORKER_MISSING_SECONDS = 300
    t0 = datetime(2024, 1, 8, 15, tzinfo=UTC)
    workers_seen(answered=["celery@a", "trading@b"], now=t0)

    workers_seen(answered=["celery@a"], now=t0 + timedelta(seconds=299))
    assert alerts() == []
    seen = workers_seen(answered=["celery@a"], now=t0 + timedelta(seconds=301))
    workers_seen(answered=["celery@a"], now=t0 + timedelta(seconds=900))

    assert alerts() == [
        (
            "critical",
            "worker_heartbeat",
            "trading@b",
            "Celery worker trading@b is missing: no heartbeat since 2024-01-08 15:00:00 UTC",
            1,
        )
    ]
    assert seen == {
        "celery@a": {"last_seen_at": "2024-01-08T15:05:01+00:00", "age_seconds": 0.0},
        "trading@b": {"last_seen_at": "2024-01-08T15:00:00+00:00", "age_seconds": 301.0},
    }
    workers_seen(answered=["celery@a", "trading@b"], now=t0 + timedelta(seconds=1000))
    assert WorkerHeartbeat.objects.get(hostname="trading@b").missing_alerted is False
