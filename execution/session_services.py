"""Which trading sessions run: every strategy version whose stage lets it trade has one, hosted by
an execution worker (DESIGN.md section 8).

A schedule (sessions_ensure, every minute) starts a session for each version in a paper or live
stage that has none running and passes trading_check; a refusal (live trading disabled, a HALTED
strategy) is reported, not retried into a crash. A session claims its (version, mode) before its
first bar, so two never trade the same version, and beats while it runs. One whose beat stops
(its worker died) is marked lost, with an alert, and the next schedule starts another; a session
told it was marked lost stops at once.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from execution.choices import TradingMode
from execution.models import TradingSessionRecord
from execution.trading_services import trading_check
from marketdata.core.errors import Forbidden
from monitoring.services import alert_raise
from quantsite.audit import audit
from quantsite.events import event_bus
from strategies.choices import StrategyStage
from strategies.models import StrategyVersion

log = structlog.get_logger(__name__)

MODE_OF_STAGE = {
    StrategyStage.PAPER_APPROVED: TradingMode.PAPER,
    StrategyStage.PAPER: TradingMode.PAPER,
    StrategyStage.LIVE_APPROVED: TradingMode.LIVE,
    StrategyStage.LIVE: TradingMode.LIVE,
}
Running = TradingSessionRecord.Status.RUNNING


@dataclass(frozen=True)
class Ensured:
    version: StrategyVersion
    mode: str
    broker: str
    outcome: str  # "started", or why it was not


def session_claim(
    *, version: StrategyVersion, mode: str, broker: str, host: str
) -> TradingSessionRecord | None:
    """The running session of (version, mode), claimed for host; None when another one runs."""
    sessions_lost_mark()
    try:
        with transaction.atomic():
            record = TradingSessionRecord.objects.create(
                strategy_version=version, mode=mode, broker=broker, host=host
            )
    except IntegrityError:
        return None
    audit(actor=None, action="session.claim", subject=record, summary=f"{record} on {host}")
    return record


def session_beat(*, record: TradingSessionRecord, steps: int) -> bool:
    """The session is alive, having traded steps bars; False when it no longer holds its claim
    (it was marked lost): it must stop."""
    return bool(
        TradingSessionRecord.objects.filter(pk=record.pk, status=Running).update(
            beat_at=timezone.now(), steps=steps
        )
    )


def session_end(*, record: TradingSessionRecord, status: str, reason: str = "") -> None:
    ended = TradingSessionRecord.objects.filter(pk=record.pk, status=Running).update(
        status=status, reason=reason, ended_at=timezone.now()
    )
    if ended:
        audit(
            actor=None,
            action=f"session.{status}",
            subject=record,
            summary=f"{record.strategy_version}: {reason}",
        )


def sessions_lost_mark(*, now: datetime | None = None) -> list[TradingSessionRecord]:
    """Running sessions whose last beat is older than TRADING_SESSION_LOST_SECONDS: marked lost,
    each with an audit record and an alert."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.TRADING_SESSION_LOST_SECONDS)
    lost = []
    for record in TradingSessionRecord.objects.filter(status=Running, beat_at__lt=cutoff):
        reason = f"no beat from {record.host} since {record.beat_at:%Y-%m-%d %H:%M:%S} UTC"
        marked = TradingSessionRecord.objects.filter(pk=record.pk, status=Running).update(
            status=TradingSessionRecord.Status.LOST, reason=reason, ended_at=now
        )
        if not marked:
            continue  # it ended meanwhile
        audit(
            actor=None, action="session.lost", subject=record, summary=f"{record.strategy_version}: {reason}"
        )
        log.warning(
            "trading session lost", version=record.strategy_version_id, mode=record.mode, reason=reason
        )
        event_bus().publish(
            "risk.alert",
            {
                "kind": "session_lost",
                "version": record.strategy_version_id,
                "mode": record.mode,
                "reason": reason,
            },
        )
        version = record.strategy_version
        alert_raise(
            severity="critical",
            source="trading_session",
            key=f"version:{version.pk}:{record.mode}",
            message=f"the {record.mode} trading session of {version.name} v{version.version} was lost: "
            f"{reason}; the next schedule starts another",
            context={"version": version.pk, "mode": record.mode, "session": record.pk, "host": record.host},
        )
        lost.append(record)
    return lost


def sessions_ensure(*, start: Callable[[StrategyVersion, str, str], None]) -> list[Ensured]:
    """start(version, mode, broker) for every enabled version whose stage lets it trade and that has
    no session running; the broker is the mode's (PAPER_BROKER, LIVE_BROKER)."""
    sessions_lost_mark()
    running = set(
        TradingSessionRecord.objects.filter(status=Running).values_list("strategy_version_id", "mode")
    )
    ensured = []
    # A disabled version is an operator's choice, not a refusal: it is passed over, unreported.
    versions = StrategyVersion.objects.filter(stage__in=list(MODE_OF_STAGE), enabled=True)
    for version in versions.order_by("pk"):
        mode = MODE_OF_STAGE[StrategyStage(version.stage)]
        if (version.pk, mode) in running:
            continue
        broker = settings.TRADING_BROKERS[mode]
        try:
            trading_check(version=version, mode=mode, broker=broker)
        except Forbidden as exc:
            ensured.append(Ensured(version, mode, broker, exc.message))
            continue
        start(version, mode, broker)
        ensured.append(Ensured(version, mode, broker, "started"))
    return ensured
