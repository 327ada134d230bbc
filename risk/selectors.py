"""Reads of the risk app: scopes, trading states (every scope's at once, for lists of strategies) and
the policy in force."""

from risk.core.policy import RANGES, RiskPolicy
from risk.core.state import TradingState, strictest
from risk.models import GLOBAL, RiskPolicyRecord, TradingStateRecord
from strategies.choices import ApprovalDecision, ApprovalKind
from strategies.models import StrategyVersion
from strategies.selectors import approval_list


def trading_state_records_get() -> dict[str, TradingStateRecord]:
    """Every scope's recorded state ("global", "version:<id>"), in one query; a scope without a
    record is ACTIVE."""
    return {record.scope: record for record in TradingStateRecord.objects.select_related("changed_by")}


def effective_state(records: dict[str, TradingStateRecord], scope: str) -> TradingState:
    """The state a scope trades under: the stricter of the platform's and its own."""
    states = [TradingState(records[s].state) for s in (GLOBAL, scope) if s in records]
    return strictest(*states)


# --- the API's reads: a scope's name, the platform's state, the policy record in force ------------


def scope_of(version: StrategyVersion | None) -> str:
    return GLOBAL if version is None else f"version:{version.pk}"


def platform_state_get() -> TradingState:
    """The platform's own state (ACTIVE when it has no record yet), in one query."""
    state = TradingStateRecord.objects.filter(scope=GLOBAL).values_list("state", flat=True).first()
    return TradingState(state or TradingState.ACTIVE)


def risk_policy_record_get(*, version: StrategyVersion | None = None) -> RiskPolicyRecord | None:
    """The record of the policy a scope trades under (risk.services.risk_policy_get): a version's
    own, else the global one; None when the default applies."""
    scopes = [GLOBAL] if version is None else [scope_of(version), GLOBAL]
    for scope in scopes:
        records = RiskPolicyRecord.objects.filter(scope=scope).select_related("created_by")
        record = records.order_by("-version").first()
        if record is not None:
            return record
    return None


def risk_policy_in_force_get(*, version: StrategyVersion | None = None) -> dict:
    """The policy in force for a scope (a version, or the platform: None): where it comes from, its
    record, level and values, every limit, the ranged limits with their ranges, and a change of the
    scope waiting for a decision."""
    scope = scope_of(version)
    record = risk_policy_record_get(version=version)
    policy = RiskPolicy.default() if record is None else RiskPolicy.from_data(record.values)
    limits = policy.values()
    overridden = policy.overridden()
    pending = approval_list().filter(
        kind=ApprovalKind.RISK_POLICY, subject_id=scope, decision=ApprovalDecision.PENDING
    )
    return {
        "scope": scope,
        "strategy_version": None if version is None else version.pk,
        "source": "default" if record is None else "global" if record.scope == GLOBAL else "version",
        "policy_version": None if record is None else record.version,
        "approval": None if record is None else record.approval_id,
        "set_by": None if record is None or record.created_by is None else record.created_by.username,
        "set_at": None if record is None else record.created_at,
        "level": policy.level,
        "configured": policy.model_dump(mode="json", exclude_unset=True),
        "limits": limits,
        "ranges": [
            {
                "name": name,
                "value": limits[name],
                "tightest": tightest,
                "loosest": loosest,
                "unit": unit,
                "from_level": name not in overridden,
            }
            for name, (tightest, loosest, unit) in RANGES.items()
        ],
        "pending_change": pending.first(),
    }
