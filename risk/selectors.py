"""Reads of risk: the trading states per scope and the policy record in force."""

from django.db.models import QuerySet

from risk.models import GLOBAL, RiskPolicyRecord, TradingStateRecord
from strategies.models import StrategyVersion


def scope_of(version: StrategyVersion | None) -> str:
    return GLOBAL if version is None else f"version:{version.pk}"


def trading_state_list() -> QuerySet[TradingStateRecord]:
    """Every scope with a state record, the platform's first."""
    return TradingStateRecord.objects.select_related("changed_by").order_by("scope")


def platform_state_get() -> TradingStateRecord:
    """The platform's state record (an unsaved ACTIVE one when it has none yet)."""
    return trading_state_list().filter(scope=GLOBAL).first() or TradingStateRecord(scope=GLOBAL)


def risk_policy_record_get(*, version: StrategyVersion | None = None) -> RiskPolicyRecord | None:
    """The record of the policy a scope trades under (risk.services.risk_policy_get): a version's
    own, else the global one; None when the default applies."""
    scopes = [GLOBAL] if version is None else [scope_of(version), GLOBAL]
    for scope in scopes:
        record = (
            RiskPolicyRecord.objects.filter(scope=scope)
            .select_related("created_by")
            .order_by("-version")
            .first()
        )
        if record is not None:
            return record
    return None
