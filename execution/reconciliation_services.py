"""Reconciliation: what the OMS holds against what the broker says, at a session's start and on a
schedule; it fails closed.

1. Every order the OMS still has open is looked up at the broker by its client order id: its status
   and any fill the stream missed are applied (derived from the broker's cumulative figures); one
   the broker has never heard of (an unknown outcome that never arrived) is cancelled here.
2. The positions: per symbol, the sum over the strategy versions trading through this broker and
   mode, against the broker's. A difference beyond the tolerance halts those versions and raises an
   alert. So does a broker that cannot answer: a missing report is never read as "flat".
"""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import structlog
from django.utils import timezone

from execution.core.brokers.base import BrokerClient, BrokerUnavailable
from execution.models import OPEN_STATUSES, Order, Position, TradingAccount
from execution.services import Progress, order_cancel, orders_progress
from marketdata.core.errors import ApplicationError
from monitoring.services import alert_raise
from quantsite.audit import audit
from quantsite.events import event_bus
from risk.core.state import TradingState
from risk.services import scope_of, trading_state_set
from strategies.models import StrategyVersion

log = structlog.get_logger(__name__)


@dataclass
class Reconciliation:
    broker: str
    mode: str
    orders_checked: int = 0
    orders_settled: list[str] = field(default_factory=list)  # client order ids whose state moved
    mismatches: list[str] = field(default_factory=list)  # "AAA: local 10, broker 0"
    failure: str = ""  # why the broker could not be asked
    halted: list[int] = field(default_factory=list)  # strategy version ids

    @property
    def clean(self) -> bool:
        return not self.mismatches and not self.failure


def reconcile(
    *, broker: str, mode: str, client: BrokerClient, tolerance: Decimal = Decimal(0)
) -> Reconciliation:
    report = Reconciliation(broker, mode)
    versions = list(StrategyVersion.objects.filter(accounts__broker=broker, accounts__mode=mode).distinct())
    try:
        for order in Order.objects.filter(broker=broker, mode=mode, status__in=OPEN_STATUSES):
            report.orders_checked += 1
            found = client.get_order(order.client_order_id)
            before = (order.status, order.filled_qty)
            if found is None:
                settled = order_cancel(
                    order=order, client=None, reason="reconciliation: the broker has no such order"
                )
            else:
                answer = Progress(found, found.updated_at or timezone.now())
                settled = orders_progress(items=[answer], derive=True)[order.client_order_id]
            if (settled.status, settled.filled_qty) != before:
                report.orders_settled.append(settled.client_order_id)
        at_broker = {p.symbol: p.qty for p in client.get_positions()}
    except ApplicationError as exc:
        report.failure = f"the broker could not be asked: {exc.message}"
        if isinstance(exc, BrokerUnavailable):
            alert_raise(
                severity="critical",
                source="broker",
                key=f"{broker}:{mode}",
                message=f"broker {broker}:{mode} disconnected: {exc.message}",
                context={"broker": f"{broker}:{mode}"},
            )
        _halt(report, versions, report.failure)
        return report
    local: dict[str, Decimal] = defaultdict(Decimal)
    for position in Position.objects.filter(strategy_version__in=versions, mode=mode):
        local[position.symbol] += position.qty
    for symbol in sorted(set(local) | set(at_broker)):
        ours, theirs = local.get(symbol, Decimal(0)), at_broker.get(symbol, Decimal(0))
        if abs(ours - theirs) > tolerance:
            report.mismatches.append(f"{symbol}: local {ours.normalize()}, broker {theirs.normalize()}")
    if report.mismatches:
        _halt(report, versions, "positions differ from the broker's: " + "; ".join(report.mismatches))
    audit(
        actor=None,
        action="reconciliation",
        subject=("broker", f"{broker}:{mode}"),
        summary=f"{broker} {mode}: {'clean' if report.clean else 'MISMATCH'}; "
        f"{report.orders_checked} open order(s) checked, {len(report.orders_settled)} settled",
        mismatches=report.mismatches,
        failure=report.failure,
    )
    return report


def reconcile_all(*, client_for) -> list[Reconciliation]:
    """Reconcile every (broker, mode) that strategy accounts trade through, but the simulated paper
    broker (whose account lives in its session)."""
    pairs = (
        TradingAccount.objects.exclude(broker="simulated").values_list("broker", "mode").distinct().order_by()
    )
    reports = []
    for broker, mode in pairs:
        try:
            client = client_for(broker, mode)
        except ApplicationError as exc:
            report = Reconciliation(broker, mode, failure=f"no client: {exc.message}")
            versions = StrategyVersion.objects.filter(accounts__broker=broker, accounts__mode=mode).distinct()
            _halt(report, list(versions), report.failure)
            reports.append(report)
            continue
        reports.append(reconcile(broker=broker, mode=mode, client=client))
    return reports


def _halt(report: Reconciliation, versions: list[StrategyVersion], why: str) -> None:
    """Fail closed: the versions trading through this broker and mode stop, and an alert goes out."""
    reason = f"reconciliation with {report.broker} ({report.mode}): {why}"
    for version in versions:
        trading_state_set(scope=scope_of(version), state=TradingState.HALTED, reason=reason)
        report.halted.append(version.pk)
    log.warning("reconciliation failed", broker=report.broker, mode=report.mode, reason=why)
    event_bus().publish(
        "risk.alert", {"kind": "reconciliation", "broker": report.broker, "mode": report.mode, "reason": why}
    )
    alert_raise(
        severity="critical",
        source="reconciliation",
        key=f"{report.broker}:{report.mode}",
        message=f"{reason}; halted: {', '.join(f'{v.name} v{v.version}' for v in versions) or 'nothing'}",
        context={"broker": report.broker, "mode": report.mode, "halted": report.halted},
    )
