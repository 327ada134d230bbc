"""Writes of risk: the policy in force per scope, trading states, the kill switch, and the approvals
that change a policy or leave HALTED.

Scopes: "global" (the platform) and "version:<id>" (one strategy version). A strategy trades under
the stricter of the two states, and under its own policy when it has one, else the global one, else
the default (level 6).

The kill switch sets HALTED, cancels every open order of its scope at its broker (orders of the
simulated paper broker live in their session: they are marked cancelled here and the session drops
them when it next sees HALTED), can ask for the positions to be flattened (each strategy version's
session closes them at its next bar, the only orders that pass while HALTED), writes the audit trail,
and does all of it again, harmlessly, when engaged twice. It needs no web tier: the command line
calls it directly. Leaving HALTED is an approval decided by a second person (a risk officer).
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from execution.choices import BrokerName
from execution.core.brokers.base import BrokerClient
from execution.models import OPEN_STATUSES, Order
from execution.services import order_cancel
from marketdata.core.errors import ApplicationError, Conflict, InvalidInput
from monitoring.services import alert_raise
from quantsite.audit import audit
from quantsite.roles import OPERATOR, role_require
from risk.core.policy import RiskPolicy
from risk.core.state import TradingState, strictest
from risk.models import GLOBAL, RiskPolicyRecord, TradingStateRecord
from risk.selectors import scope_of
from strategies.choices import ApprovalKind
from strategies.core.types import OrderStatus
from strategies.lifecycle_services import ApprovalEffect, approval_effect_register, approval_request
from strategies.models import Approval, StrategyVersion

# --- policies --------------------------------------------------------------------------------------


def risk_policy_get(*, version: StrategyVersion | None = None) -> RiskPolicy:
    """The policy a version trades under (its own, else the global one, else the default)."""
    scopes = [GLOBAL] if version is None else [scope_of(version), GLOBAL]
    for scope in scopes:
        record = RiskPolicyRecord.objects.filter(scope=scope).order_by("-version").first()
        if record is not None:
            return RiskPolicy.from_data(record.values)
    return RiskPolicy.default()


def risk_policy_change_request(
    *, values: dict, requested_by, version: StrategyVersion | None = None, comment: str = ""
) -> Approval:
    """Ask for new limits in a scope (checked now: each inside its range); a risk officer decides."""
    policy = RiskPolicy.from_data(values)
    scope = scope_of(version)
    current = RiskPolicyRecord.objects.filter(scope=scope).order_by("-version").first()
    return approval_request(
        kind=ApprovalKind.RISK_POLICY,
        subject=("riskpolicy", scope),
        requested_by=requested_by,
        comment=comment,
        payload={
            "values": policy.model_dump(mode="json", exclude_unset=True),
            "base_version": 0 if current is None else current.version,
        },
    )


def _policy_still_valid(approval: Approval) -> str:
    current = RiskPolicyRecord.objects.filter(scope=approval.subject_id).order_by("-version").first()
    if (0 if current is None else current.version) != approval.payload["base_version"]:
        return "the policy changed since the request"
    return ""


def _policy_apply(approval: Approval, decided_by) -> None:
    scope = approval.subject_id
    current = RiskPolicyRecord.objects.select_for_update().filter(scope=scope).order_by("-version").first()
    record = RiskPolicyRecord.objects.create(
        scope=scope,
        version=1 if current is None else current.version + 1,
        values=approval.payload["values"],
        created_by=approval.requested_by,
        approval=approval,
    )
    audit(
        actor=decided_by,
        action="risk_policy.change",
        subject=record,
        summary=f"{record}: {record.values}",
        values=RiskPolicy.from_data(record.values).values(),
    )


# --- trading states --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScopeStates:
    """The platform's state, a version's own, and whether its positions are to be closed."""

    platform: TradingState = TradingState.ACTIVE
    version: TradingState = TradingState.ACTIVE
    flatten_requested: bool = False

    @property
    def effective(self) -> TradingState:
        return strictest(self.platform, self.version)


def trading_states_get(*, version: StrategyVersion | None = None) -> ScopeStates:
    """The states a version trades under, in one read (a session reads them at every bar)."""
    scopes = [GLOBAL] if version is None else [GLOBAL, scope_of(version)]
    states = ScopeStates()
    for scope, state, flatten in TradingStateRecord.objects.filter(scope__in=scopes).values_list(
        "scope", "state", "flatten_requested"
    ):
        if scope == GLOBAL:
            states = dataclasses.replace(states, platform=TradingState(state))
        else:
            states = dataclasses.replace(states, version=TradingState(state), flatten_requested=flatten)
    return states


def trading_state_get(*, version: StrategyVersion | None = None) -> TradingState:
    """The state a version trades under: the stricter of the global one and its own."""
    return trading_states_get(version=version).effective


def trading_state_set(
    *, scope: str, state: TradingState, reason: str, by=None, label: str | None = None
) -> TradingStateRecord:
    with transaction.atomic():
        record, _ = TradingStateRecord.objects.select_for_update().get_or_create(scope=scope)
        before = record.state
        record.state, record.reason, record.changed_by = state, reason, by
        if state != TradingState.HALTED:
            record.flatten_requested = False
        record.save()
        audit(
            actor=by,
            label=label,
            action="trading_state.set",
            subject=("tradingstate", scope),
            summary=f"{scope}: {before} -> {state}: {reason}",
        )
    return record


def strategy_pause(*, version: StrategyVersion, by, reason: str) -> TradingStateRecord:
    """Pause a strategy version: REDUCING, so it opens nothing new but may still close what it holds
    (its exits pass the risk manager). An operator's act; a HALTED version stays HALTED."""
    role_require(by, OPERATOR, "pause a strategy")
    if not reason.strip():
        raise InvalidInput("pausing a strategy needs a reason")
    current = trading_state_get(version=version)
    if current == TradingState.HALTED:
        raise Conflict(f"{version} is HALTED (the kill switch): it cannot be paused, only reset")
    return trading_state_set(
        scope=scope_of(version), state=TradingState.REDUCING, reason=f"paused: {reason}", by=by
    )


def strategy_resume(*, version: StrategyVersion, by) -> TradingStateRecord:
    """Resume a paused (REDUCING) strategy version: ACTIVE again. Leaving HALTED is not a resume:
    it needs an approved reset (halt_reset_request)."""
    role_require(by, OPERATOR, "resume a strategy")
    record = TradingStateRecord.objects.filter(scope=scope_of(version)).first()
    if record is None or record.state == TradingState.ACTIVE:
        raise Conflict(f"{version} is not paused")
    if record.state == TradingState.HALTED:
        raise Conflict(f"{version} is HALTED (the kill switch): leaving it needs an approved reset")
    return trading_state_set(scope=scope_of(version), state=TradingState.ACTIVE, reason="resumed", by=by)


def kill_switch_engage(
    *,
    reason: str,
    by=None,
    label: str | None = None,
    version: StrategyVersion | None = None,
    flatten: bool = False,
    client_for: Callable[[Order], BrokerClient] | None = None,
) -> tuple[list[Order], list[tuple[Order, str]]]:
    """HALT the scope, cancel its open orders, and (flatten) ask for its positions to be closed.
    client_for gives the broker client of an order (at Alpaca or IB; without it, or for the paper
    broker's orders, they are cancelled here for their session). The orders cancelled (or asked to
    be), and those whose broker could not be reached, with why: each is in the audit trail."""
    if not reason.strip():
        raise InvalidInput("the kill switch needs a reason")
    scope = scope_of(version)
    with transaction.atomic():
        record, _ = TradingStateRecord.objects.select_for_update().get_or_create(scope=scope)
        already = record.state == TradingState.HALTED
        record.state, record.reason, record.changed_by = TradingState.HALTED, reason, by
        record.save()
        if flatten:
            _flatten_request(version, reason, by)
        audit(
            actor=by,
            label=label,
            action="kill_switch.engage",
            subject=("tradingstate", scope),
            summary=f"{scope} halted{' (already)' if already else ''}: {reason}",
            flatten=flatten,
        )
    alert_raise(
        severity="critical",
        source="kill_switch",
        key=scope,
        message=f"kill switch engaged on "
        f"{'the platform' if version is None else f'{version.name} v{version.version}'}: {reason}",
        context={
            "scope": scope,
            "by": label or (by.get_username() if by is not None else "platform"),
            "flatten": flatten,
            **({"version": version.pk} if version is not None else {}),
        },
    )
    orders = Order.objects.filter(status__in=OPEN_STATUSES)
    if version is not None:
        orders = orders.filter(strategy_version=version)
    cancelled, failed = [], []
    for order in orders:
        try:
            local = (
                order.status == OrderStatus.NEW or order.broker == BrokerName.SIMULATED or client_for is None
            )
            client = None if local else client_for(order)
            cancelled.append(
                order_cancel(order=order, client=client, actor=by, reason=f"kill switch: {reason}")
            )
        except ApplicationError as exc:  # one unreachable broker must not stop the others' cancels
            failed.append((order, exc.message))
            audit(
                actor=by,
                label=label,
                action="kill_switch.cancel_failed",
                subject=order,
                summary=f"{order}: {exc.message}",
            )
    return cancelled, failed


def _flatten_request(version: StrategyVersion | None, reason: str, by) -> None:
    """Ask each strategy version concerned (the one given, or every one holding a position) to close
    its positions: its session does it at its next bar, then clears the request."""
    versions = (
        [version]
        if version is not None
        else StrategyVersion.objects.filter(Q(positions__qty__gt=0) | Q(positions__qty__lt=0)).distinct()
    )
    for each in versions:
        record, _ = TradingStateRecord.objects.select_for_update().get_or_create(scope=scope_of(each))
        record.flatten_requested = True
        if record.state != TradingState.HALTED:
            record.reason = record.reason or f"flatten requested: {reason}"
        record.save()


def flatten_done(*, version: StrategyVersion, orders: int, by=None) -> None:
    """A session closed its positions as the kill switch asked."""
    TradingStateRecord.objects.filter(scope=scope_of(version)).update(flatten_requested=False)
    audit(
        actor=by,
        action="kill_switch.flatten",
        subject=("tradingstate", scope_of(version)),
        summary=f"{version}: {orders} closing order(s) sent",
    )


def halt_reset_request(*, requested_by, reason: str, version: StrategyVersion | None = None) -> Approval:
    """Ask to leave HALTED; a risk officer other than the requester decides."""
    scope = scope_of(version)
    record = TradingStateRecord.objects.filter(scope=scope).first()
    if record is None or record.state != TradingState.HALTED:
        raise Conflict(f"{scope} is not halted")
    return approval_request(
        kind=ApprovalKind.HALT_RESET,
        subject=("tradingstate", scope),
        requested_by=requested_by,
        comment=reason,
    )


def _reset_still_valid(approval: Approval) -> str:
    record = TradingStateRecord.objects.filter(scope=approval.subject_id).first()
    return (
        "" if record is not None and record.state == TradingState.HALTED else "the scope is no longer halted"
    )


def _reset_apply(approval: Approval, decided_by) -> None:
    trading_state_set(
        scope=approval.subject_id,
        state=TradingState.ACTIVE,
        reason=f"reset approved by {decided_by.get_username()}: {approval.request_comment}",
        by=decided_by,
    )


approval_effect_register(ApprovalKind.RISK_POLICY, ApprovalEffect(_policy_still_valid, _policy_apply))
approval_effect_register(ApprovalKind.HALT_RESET, ApprovalEffect(_reset_still_valid, _reset_apply))
