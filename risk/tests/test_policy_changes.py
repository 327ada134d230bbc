"""Risk-limit changes: asked by one person, decided by a risk officer, checked against the ranges,
voided when the policy moved since the request; every change in the audit trail."""

import pytest

from marketdata.core.errors import Conflict, Forbidden, InvalidInput
from quantsite.models import AuditRecord
from risk.core.policy import RiskPolicy
from risk.models import RiskPolicyRecord
from risk.services import risk_policy_change_request, risk_policy_get
from strategies.core.config import StrategyConfig
from strategies.lifecycle_services import approval_decide

pytestmark = pytest.mark.django_db


def test_new_limits_apply_once_a_risk_officer_approves_them(people, promoted):
    version = promoted(StrategyConfig(strategy="momentum", name="limits", universe=["AAA"]), stage="draft")
    request = risk_policy_change_request(
        values={"level": 3, "max_concurrent_positions": 5}, requested_by=people["olga"], comment="tighter"
    )

    with pytest.raises(Forbidden, match="needs the role admin or risk_officer"):
        approval_decide(approval=request, decided_by=people["otto"], approve=True)
    assert risk_policy_get() == RiskPolicy.default()
    approval_decide(approval=request, decided_by=people["rita"], approve=True)

    policy = risk_policy_get()
    assert (policy.level, policy.resolved().max_concurrent_positions) == (3, 5)
    assert risk_policy_get(version=version) == policy  # no override of its own: the global one
    record = AuditRecord.objects.get(action="risk_policy.change")
    assert record.actor == people["rita"]
    assert record.data["values"]["max_concurrent_positions"] == 5


def test_limits_outside_their_ranges_are_refused_at_the_request(people):
    with pytest.raises(InvalidInput, match="max_drawdown_pct"):
        risk_policy_change_request(values={"max_drawdown_pct": 25}, requested_by=people["olga"])


def test_a_request_made_on_an_older_policy_is_voided(people):
    first = risk_policy_change_request(values={"level": 4}, requested_by=people["olga"])
    approval_decide(approval=first, decided_by=people["rita"], approve=True)
    stale = risk_policy_change_request(values={"level": 8}, requested_by=people["olga"])
    # the policy moves on behind the pending request's back
    RiskPolicyRecord.objects.create(scope="global", version=2, values={"level": 2})

    with pytest.raises(Conflict, match="the policy changed since the request"):
        approval_decide(approval=stale, decided_by=people["ray"], approve=True)
    assert risk_policy_get().level == 2
