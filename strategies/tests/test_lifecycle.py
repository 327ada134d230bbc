"""The strategy lifecycle: promotions approved by a second person, voided when the config changes,
every step in the audit trail."""

import pytest
from django.contrib.auth.models import Group

from marketdata.core.errors import Conflict, Forbidden
from quantsite.models import AuditRecord
from quantsite.roles import OPERATOR, RISK_OFFICER, VIEWER
from strategies.choices import ApprovalDecision, StrategyStage
from strategies.core.config import StrategyConfig
from strategies.lifecycle_services import (
    ADVANCES,
    approval_decide,
    promotion_request,
    stage_require,
    strategy_version_advance,
    strategy_version_create,
    strategy_version_edit,
    strategy_version_retire,
)

pytestmark = pytest.mark.django_db

CONFIG = StrategyConfig(strategy="momentum", name="momentum_v1", universe=["AAA"], parameters={"fast": 10})


@pytest.fixture
def people(django_user_model):
    def person(name, *roles):
        user = django_user_model.objects.create_user(username=name, password=f"pw-{name}-123")
        user.groups.add(*Group.objects.filter(name__in=roles))
        return user

    return {
        "alice": person("alice", OPERATOR),
        "bob": person("bob", OPERATOR),
        "rita": person("rita", RISK_OFFICER),
        "vic": person("vic", VIEWER),
    }


def test_a_version_is_promoted_stage_by_stage_by_a_second_person(people):
    alice, bob = people["alice"], people["bob"]
    version = strategy_version_create(config=CONFIG, created_by=alice)

    stages = [version.stage]
    for _ in range(3):
        approval = promotion_request(version=version, requested_by=alice)
        approval_decide(approval=approval, decided_by=bob, approve=True, comment="looks right")
        version.refresh_from_db()
        stages.append(version.stage)
        if version.stage in {StrategyStage.BACKTEST_APPROVED, StrategyStage.PAPER_APPROVED}:
            strategy_version_advance(version=version, to=ADVANCES[version.stage])
            stages.append(version.stage)

    assert stages == [
        "draft",
        "backtest_approved",
        "backtested",
        "paper_approved",
        "paper",
        "live_approved",
    ]
    actions = list(AuditRecord.objects.order_by("id").values_list("action", flat=True))
    assert actions[:5] == [
        "strategy_version.create",
        "approval.request",
        "approval.approved",
        "strategy_version.promote",
        "strategy_version.advance",
    ]


def test_the_requester_cannot_approve_their_own_request(people):
    alice = people["alice"]
    version = strategy_version_create(config=CONFIG, created_by=alice)
    approval = promotion_request(version=version, requested_by=alice)

    with pytest.raises(Forbidden, match="the requester cannot decide their own request \\(four-eyes\\)"):
        approval_decide(approval=approval, decided_by=alice, approve=True)

    approval.refresh_from_db()
    version.refresh_from_db()
    assert (approval.decision, version.stage) == ("pending", "draft")


def test_a_viewer_cannot_decide_and_a_request_waits_alone(people):
    version = strategy_version_create(config=CONFIG, created_by=people["alice"])
    approval = promotion_request(version=version, requested_by=people["alice"])

    with pytest.raises(Forbidden, match="needs the role admin or operator or risk_officer"):
        approval_decide(approval=approval, decided_by=people["vic"], approve=True)
    with pytest.raises(Conflict, match="is already waiting for a decision"):
        promotion_request(version=version, requested_by=people["bob"])


def test_editing_the_config_voids_its_approvals_and_sends_it_back_to_draft(people):
    alice, bob = people["alice"], people["bob"]
    version = strategy_version_create(config=CONFIG, created_by=alice)
    approval_decide(
        approval=promotion_request(version=version, requested_by=alice), decided_by=bob, approve=True
    )
    version.refresh_from_db()
    strategy_version_advance(version=version, to=StrategyStage.BACKTESTED)
    pending = promotion_request(version=version, requested_by=alice)

    strategy_version_edit(
        version=version, config=CONFIG.model_copy(update={"parameters": {"fast": 12}}), edited_by=alice
    )

    version.refresh_from_db()
    pending.refresh_from_db()
    assert version.stage == "draft"
    assert pending.decision == ApprovalDecision.VOIDED
    assert version.config["parameters"] == {"fast": 12}
    with pytest.raises(Conflict, match="was already decided"):
        approval_decide(approval=pending, decided_by=bob, approve=True)


def test_an_approval_decided_after_the_config_changed_is_voided(people):
    alice, bob = people["alice"], people["bob"]
    version = strategy_version_create(config=CONFIG, created_by=alice)
    approval = promotion_request(version=version, requested_by=alice)
    # the config changes behind the request's back (not through the edit service)
    type(version).objects.filter(pk=version.pk).update(config_hash="0" * 64)

    with pytest.raises(Conflict, match="the config or model changed since the request"):
        approval_decide(approval=approval, decided_by=bob, approve=True)

    approval.refresh_from_db()
    version.refresh_from_db()
    assert (approval.decision, version.stage) == ("voided", "draft")


def test_stages_gate_what_a_version_may_do(people):
    version = strategy_version_create(config=CONFIG, created_by=people["alice"])

    with pytest.raises(Forbidden, match="paper trading needs momentum_v1 v1 to be paper or paper_approved"):
        stage_require(version=version, stages={"paper_approved", "paper"}, action="paper trading")
    strategy_version_retire(version=version, by=people["alice"], reason="superseded")
    with pytest.raises(Conflict, match="is retired"):
        strategy_version_edit(version=version, config=CONFIG, edited_by=people["alice"])
    with pytest.raises(Conflict, match="cannot be promoted from retired"):
        promotion_request(version=version, requested_by=people["alice"])


def test_the_audit_trail_cannot_be_changed_or_deleted(people):
    strategy_version_create(config=CONFIG, created_by=people["alice"])
    record = AuditRecord.objects.get()

    record.summary = "nothing happened"
    with pytest.raises(Conflict, match="never changed"):
        record.save()
    with pytest.raises(Conflict, match="never deleted"):
        record.delete()
    with pytest.raises(Conflict, match="never deleted"):
        AuditRecord.objects.all().delete()
    with pytest.raises(Conflict, match="never changed"):
        AuditRecord.objects.update(summary="")
    assert AuditRecord.objects.get().summary.startswith("momentum_v1 v1")


def test_enabling_and_disabling_is_an_operators_act_and_changes_nothing_when_already_set(people):
    from strategies.lifecycle_services import strategy_version_enable

    config = StrategyConfig(strategy="momentum", name="switch")
    version = strategy_version_create(config=config, created_by=None)

    with pytest.raises(Forbidden, match="to enable or disable a strategy needs the role operator"):
        strategy_version_enable(version=version, enabled=False, by=people["vic"])
    strategy_version_enable(version=version, enabled=True, by=people["alice"])  # already enabled
    strategy_version_enable(version=version, enabled=False, by=people["alice"], reason="bad fills")

    version.refresh_from_db()
    assert (version.enabled, version.stage) == (False, "draft")
    assert list(
        AuditRecord.objects.filter(subject_id=str(version.pk), action__startswith="strategy_version.")
        .order_by("id")
        .values_list("action", "summary")
    ) == [
        ("strategy_version.create", "switch v1 (draft) created"),
        ("strategy_version.disable", "switch v1 (draft) disabled: bad fills"),
    ]
