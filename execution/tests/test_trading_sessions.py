"""Every paper or live strategy version gets a trading session hosted by a worker: one at a time,
beating while it runs, replaced when its worker dies."""

import os
from datetime import UTC, datetime, timedelta

import pytest

from conftest import _ingest_synthetic
from execution import session_services
from execution.models import TradingAccount, TradingSessionRecord
from execution.session_services import session_beat, session_claim, sessions_ensure, sessions_lost_mark
from quantsite.models import AuditRecord
from strategies.core.config import Sizing, StrategyConfig
from strategies.lifecycle_services import strategy_version_retire

pytestmark = pytest.mark.django_db


def config(name: str) -> StrategyConfig:
    return StrategyConfig(
        strategy="momentum",
        name=name,
        universe=["AAA"],
        parameters={"fast": 5, "slow": 20},
        sizing=Sizing(mode="notional", value=120),
    )


class Alerts(list):
    def publish(self, channel, payload):
        self.append((channel, payload))


@pytest.fixture
def alerts(monkeypatch):
    published = Alerts()
    monkeypatch.setattr(session_services, "event_bus", lambda: published)
    return published


def test_a_session_starts_for_each_version_that_may_trade_and_none_while_one_runs(promoted, alerts):
    paper = promoted(config("on_paper"), "paper")
    live = promoted(config("to_live"), "live_approved")
    promoted(config("researched"), "backtested")
    started = []

    def start(version, mode, broker):
        started.append((version.name, mode, broker))

    ensured = sessions_ensure(start=start)

    assert started == [("on_paper", "paper", "simulated")]
    assert [(e.version.name, e.broker, e.outcome) for e in ensured] == [
        ("on_paper", "simulated", "started"),
        ("to_live", "alpaca", "live trading of to_live v1 refused: LIVE_TRADING_ENABLED is false"),
    ]
    assert live.stage == "live_approved"  # refused, not moved

    record = session_claim(version=paper, mode="paper", broker="simulated", host="worker-1:42")
    assert session_claim(version=paper, mode="paper", broker="simulated", host="worker-2:7") is None
    started.clear()
    sessions_ensure(start=start)
    assert started == []  # it runs already
    assert record.status == "running"
    assert alerts == []


def test_a_session_whose_beat_stopped_is_lost_with_an_alert_and_replaced(promoted, alerts):
    version = promoted(config("on_paper"), "paper")
    record = session_claim(version=version, mode="paper", broker="simulated", host="worker-1:42")
    assert session_beat(record=record, steps=3)
    record.refresh_from_db()

    assert sessions_lost_mark(now=record.beat_at + timedelta(seconds=89)) == []
    lost = sessions_lost_mark(now=record.beat_at + timedelta(seconds=91))

    record.refresh_from_db()
    assert [r.pk for r in lost] == [record.pk]
    assert (record.status, record.steps) == ("lost", 3)
    assert record.reason.startswith("no beat from worker-1:42 since ")
    assert alerts == [
        (
            "risk.alert",
            {"kind": "session_lost", "version": version.pk, "mode": "paper", "reason": record.reason},
        )
    ]
    assert AuditRecord.objects.filter(action="session.lost", subject_id=str(record.pk)).exists()
    assert not session_beat(record=record, steps=4)  # the lost session hears it and stops
    started = []
    sessions_ensure(start=lambda version, mode, broker: started.append(version.pk))
    assert started == [version.pk]


def test_the_worker_claims_trades_beats_and_ends_its_session(promoted, alerts, monkeypatch, settings):
    from execution import tasks

    settings.TRADING_SESSION_BEAT_SECONDS = 0  # a beat at every look
    _ingest_synthetic("AAA", datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 12, 29, tzinfo=UTC))
    version = promoted(config("on_paper"))
    live = tasks.trading_session_live
    looks = []

    def retired_at_the_third_look(*, stop, **kwargs):
        def looked() -> bool:
            looks.append(1)
            if len(looks) == 3:
                strategy_version_retire(version=version, by=None, reason="done")
            return stop()

        return live(stop=looked, **{**kwargs, "wait_seconds": 0.01})

    monkeypatch.setattr(tasks, "trading_session_live", retired_at_the_third_look)

    assert tasks.trading_session_task.delay(version.pk, "paper").get() == 0  # no new bar came

    record = TradingSessionRecord.objects.get()
    assert (record.status, record.reason) == ("stopped", "the version is retired")
    assert record.host.endswith(f":{os.getpid()}")
    assert record.beat_at > record.started_at
    assert TradingAccount.objects.filter(strategy_version=version).exists()
    assert list(
        AuditRecord.objects.filter(subject_type="tradingsessionrecord")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["session.claim", "session.stopped"]


def test_a_second_worker_leaves_a_running_session_alone(promoted):
    from execution.tasks import trading_session_task

    version = promoted(config("on_paper"))
    session_claim(version=version, mode="paper", broker="simulated", host="worker-1:42")

    assert trading_session_task.delay(version.pk, "paper").get() == 0
    assert TradingSessionRecord.objects.count() == 1
    assert not TradingAccount.objects.exists()  # no session was built


def test_the_schedule_needs_a_worker_to_host_sessions(promoted, settings):
    from execution.tasks import trading_sessions_ensure_task

    promoted(config("on_paper"))
    settings.CELERY_TASK_ALWAYS_EAGER = True

    assert trading_sessions_ensure_task() == []
    assert not TradingSessionRecord.objects.exists()


def test_a_disabled_version_gets_no_session_and_its_running_one_stops(
    people, promoted, alerts, monkeypatch, settings
):
    from execution import tasks
    from execution.trading_services import trading_check
    from marketdata.core.errors import Forbidden
    from strategies.lifecycle_services import strategy_version_enable

    _ingest_synthetic("AAA", datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 12, 29, tzinfo=UTC))
    version = promoted(config("on_paper"))
    live = tasks.trading_session_live

    def disabled_at_the_second_look(*, stop, **kwargs):
        looks = []

        def looked() -> bool:
            looks.append(1)
            if len(looks) == 2:
                strategy_version_enable(version=version, enabled=False, by=people["olga"])
            return stop()

        return live(stop=looked, **{**kwargs, "wait_seconds": 0.01})

    monkeypatch.setattr(tasks, "trading_session_live", disabled_at_the_second_look)

    assert tasks.trading_session_task.delay(version.pk, "paper").get() == 0

    record = TradingSessionRecord.objects.get()
    assert (record.status, record.reason) == ("stopped", "the version was disabled")
    started = []
    assert sessions_ensure(start=lambda version, mode, broker: started.append(version.pk)) == []
    assert started == []
    version.refresh_from_db()
    with pytest.raises(Forbidden, match="the version is disabled"):
        trading_check(version=version, mode="paper", broker="simulated")

    strategy_version_enable(version=version, enabled=True, by=people["otto"])
    sessions_ensure(start=lambda version, mode, broker: started.append(version.pk))
    assert started == [version.pk]
    switched = AuditRecord.objects.filter(action__in=["strategy_version.disable", "strategy_version.enable"])
    assert list(switched.order_by("id").values_list("action", "actor__username")) == [
        ("strategy_version.disable", "olga"),
        ("strategy_version.enable", "otto"),
    ]
