"""Writes of the strategy lifecycle and of approvals (DESIGN.md section 7).

    DRAFT -> (approve) BACKTEST_APPROVED -> (backtest done) BACKTESTED -> (approve) PAPER_APPROVED
          -> PAPER -> (approve) LIVE_APPROVED -> LIVE ;  any -> RETIRED

Every "approve" is an Approval: requested by one person, decided by another (four-eyes), holding
the hashes of the config and model it approves. Editing a version's config (or its model) voids
its open and granted approvals and sends it back to DRAFT. Risk-limit changes and leaving HALTED
use the same requests and decisions; the risk app registers what their approval does. Every step
is written to the audit trail.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from marketdata.core.errors import Conflict, Forbidden, InvalidInput
from quantsite.audit import audit
from quantsite.roles import ADMIN, OPERATOR, RISK_OFFICER, role_require, user_roles
from strategies.choices import ApprovalDecision, ApprovalKind, StrategyStage
from strategies.core.config import StrategyConfig
from strategies.models import Approval, StrategyVersion, TrainedModel

# A promotion's target from each stage that can be promoted.
PROMOTIONS = {
    StrategyStage.DRAFT: StrategyStage.BACKTEST_APPROVED,
    StrategyStage.BACKTESTED: StrategyStage.PAPER_APPROVED,
    StrategyStage.PAPER: StrategyStage.LIVE_APPROVED,
}
# The moves that follow an approved stage, made by the platform when the approved thing happens.
ADVANCES = {
    StrategyStage.BACKTEST_APPROVED: StrategyStage.BACKTESTED,
    StrategyStage.PAPER_APPROVED: StrategyStage.PAPER,
    StrategyStage.LIVE_APPROVED: StrategyStage.LIVE,
}
DECIDERS = {
    ApprovalKind.PROMOTION: {OPERATOR, RISK_OFFICER, ADMIN},
    ApprovalKind.RISK_POLICY: {RISK_OFFICER, ADMIN},
    ApprovalKind.HALT_RESET: {RISK_OFFICER, ADMIN},
}


@dataclass(frozen=True)
class ApprovalEffect:
    """What deciding an approval of a kind does, beyond recording it: still_valid says why the
    approval no longer applies ("" when it does); apply carries it out once approved."""

    still_valid: Callable[[Approval], str]
    apply: Callable[[Approval, object], None]


_EFFECTS: dict[str, ApprovalEffect] = {}


def approval_effect_register(kind: str, effect: ApprovalEffect) -> None:
    _EFFECTS[kind] = effect


# --- versions --------------------------------------------------------------------------------------


def config_hash(config: StrategyConfig) -> str:
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _model_of(config: StrategyConfig) -> TrainedModel | None:
    """The registered model a config trades (its `model` parameter, when that is an id)."""
    reference = str(config.parameters.get("model", ""))
    if not reference.isdigit():
        return None
    model = TrainedModel.objects.filter(pk=int(reference)).first()
    if model is None:
        raise InvalidInput(f"the config trades model #{reference}, which is not registered")
    return model


def strategy_version_create(*, config: StrategyConfig, created_by) -> StrategyVersion:
    """A new DRAFT version of the config's strategy name (its next version number)."""
    name = config.name or config.strategy
    model = _model_of(config)
    with transaction.atomic():
        last = StrategyVersion.objects.select_for_update().filter(name=name).order_by("-version").first()
        version = StrategyVersion.objects.create(
            name=name,
            version=1 if last is None else last.version + 1,
            config=config.model_dump(mode="json"),
            config_hash=config_hash(config),
            model=model,
            model_hash="" if model is None else model.content_hash,
            created_by=created_by,
        )
        audit(
            actor=created_by,
            action="strategy_version.create",
            subject=version,
            summary=f"{version} created",
            config_hash=version.config_hash,
            model_hash=version.model_hash,
        )
    return version


def strategy_version_edit(*, version: StrategyVersion, config: StrategyConfig, edited_by) -> StrategyVersion:
    """Change a version's config. A different config (or model) voids its approvals, pending and
    granted, and sends it back to DRAFT; the same one changes nothing."""
    if version.stage == StrategyStage.RETIRED:
        raise Conflict(f"{version} is retired: create a new version instead")
    model = _model_of(config)
    new_hash, new_model_hash = config_hash(config), "" if model is None else model.content_hash
    if (new_hash, new_model_hash) == (version.config_hash, version.model_hash):
        return version
    with transaction.atomic():
        voided = _void_approvals(version, edited_by, "the config or model changed")
        before = version.stage
        version.config, version.config_hash = config.model_dump(mode="json"), new_hash
        version.model, version.model_hash = model, new_model_hash
        version.stage = StrategyStage.DRAFT
        version.save()
        audit(
            actor=edited_by,
            action="strategy_version.edit",
            subject=version,
            summary=f"{version} edited (was {before}), {voided} approval(s) voided",
            config_hash=new_hash,
            model_hash=new_model_hash,
        )
    return version


def strategy_version_advance(*, version: StrategyVersion, to: str, actor=None) -> StrategyVersion:
    """The move that follows an approved stage (a backtest done, paper or live trading started)."""
    if ADVANCES.get(version.stage) != to:
        raise Conflict(f"{version} cannot move to {to}")
    version.stage = to
    version.save(update_fields=["stage", "updated_at"])
    audit(actor=actor, action="strategy_version.advance", subject=version, summary=f"{version}")
    return version


def strategy_version_retire(*, version: StrategyVersion, by, reason: str) -> StrategyVersion:
    if version.stage == StrategyStage.RETIRED:
        return version
    with transaction.atomic():
        _void_approvals(version, by, "retired")
        version.stage = StrategyStage.RETIRED
        version.save(update_fields=["stage", "updated_at"])
        audit(actor=by, action="strategy_version.retire", subject=version, summary=f"{version}: {reason}")
    return version


def strategy_version_enable(
    *, version: StrategyVersion, enabled: bool, by, reason: str = ""
) -> StrategyVersion:
    """Switch a version on or off (an operator's act). A disabled version gets no trading session and
    its running one stops at its next look; its stage and approvals are untouched, so enabling it
    again lets it trade where it was. Setting what is already set changes nothing."""
    role_require(by, OPERATOR, "enable or disable a strategy")
    if version.enabled == enabled:
        return version
    with transaction.atomic():
        version.enabled = enabled
        version.save(update_fields=["enabled", "updated_at"])
        word = "enabled" if enabled else "disabled"
        audit(
            actor=by,
            action=f"strategy_version.{'enable' if enabled else 'disable'}",
            subject=version,
            summary=f"{version} {word}" + (f": {reason}" if reason else ""),
        )
    return version


def stage_require(*, version: StrategyVersion, stages: set[str], action: str) -> None:
    """Refuse action unless the version is in one of stages (an edit sends it back to draft, so a
    version past draft still has the config its approvals were given for)."""
    if version.stage not in stages:
        allowed = " or ".join(sorted(stages))
        raise Forbidden(
            f"{action} needs {version.name} v{version.version} to be {allowed}, not {version.stage}"
        )


def _void_approvals(version: StrategyVersion, actor, why: str) -> int:
    approvals = Approval.objects.filter(
        kind=ApprovalKind.PROMOTION,
        subject_type="strategyversion",
        subject_id=str(version.pk),
        decision__in=[ApprovalDecision.PENDING, ApprovalDecision.APPROVED],
    )
    count = 0
    for approval in approvals:
        approval.decision, approval.comment = ApprovalDecision.VOIDED, why
        approval.save(update_fields=["decision", "comment"])
        audit(actor=actor, action="approval.void", subject=approval, summary=f"{approval}: {why}")
        count += 1
    return count


# --- approvals -------------------------------------------------------------------------------------


def promotion_request(*, version: StrategyVersion, requested_by, comment: str = "") -> Approval:
    """Ask for the version's next approved stage."""
    target = PROMOTIONS.get(version.stage)
    if target is None:
        raise Conflict(f"{version} cannot be promoted from {version.stage}")
    return approval_request(
        kind=ApprovalKind.PROMOTION,
        subject=("strategyversion", str(version.pk)),
        requested_by=requested_by,
        stage=target,
        comment=comment,
        config_hash=version.config_hash,
        model_hash=version.model_hash,
    )


def approval_request(
    *,
    kind: str,
    subject: tuple[str, str],
    requested_by,
    stage: str = "",
    comment: str = "",
    config_hash: str = "",
    model_hash: str = "",
    payload: dict | None = None,
) -> Approval:
    """A pending request; one at a time per subject and kind."""
    if requested_by is None:
        raise Forbidden("an approval is requested by a person")
    subject_type, subject_id = subject
    open_request = Approval.objects.filter(
        kind=kind, subject_type=subject_type, subject_id=subject_id, decision=ApprovalDecision.PENDING
    ).first()
    if open_request is not None:
        raise Conflict(f"{open_request} is already waiting for a decision")
    with transaction.atomic():
        approval = Approval.objects.create(
            kind=kind,
            subject_type=subject_type,
            subject_id=subject_id,
            stage=stage,
            requested_by=requested_by,
            request_comment=comment,
            config_hash=config_hash,
            model_hash=model_hash,
            payload=payload or {},
        )
        audit(actor=requested_by, action="approval.request", subject=approval, summary=str(approval))
    return approval


def approval_decidable(*, approval: Approval, user) -> bool:
    """Whether user may decide approval now: pending, not theirs (four-eyes), their role one of its
    kind's deciders (approval_decide enforces the same)."""
    return (
        approval.decision == ApprovalDecision.PENDING
        and user.pk != approval.requested_by_id
        and bool(user_roles(user) & DECIDERS[approval.kind])
    )


def approval_decide(*, approval: Approval, decided_by, approve: bool, comment: str = "") -> Approval:
    """Approve or reject a pending request. Never by its requester (four-eyes); only by a role that
    may decide its kind; an approval whose subject changed since the request is voided instead."""
    if approval.decision != ApprovalDecision.PENDING:
        raise Conflict(f"{approval} was already decided")
    if decided_by is None or decided_by.pk == approval.requested_by_id:
        raise Forbidden(f"{approval}: the requester cannot decide their own request (four-eyes)")
    if not user_roles(decided_by) & DECIDERS[approval.kind]:
        needed = " or ".join(sorted(DECIDERS[approval.kind]))
        raise Forbidden(f"{approval}: deciding it needs the role {needed}")
    effect = _effect(approval)
    with transaction.atomic():
        approval = Approval.objects.select_for_update().get(pk=approval.pk)
        why_void = effect.still_valid(approval)
        approval.decided_by, approval.decided_at = decided_by, timezone.now()
        if why_void:
            approval.decision, approval.comment = ApprovalDecision.VOIDED, why_void
        else:
            approval.decision = ApprovalDecision.APPROVED if approve else ApprovalDecision.REJECTED
            approval.comment = comment
        approval.save()
        audit(
            actor=decided_by,
            action=f"approval.{approval.decision}",
            subject=approval,
            summary=f"{approval}" + (f": {approval.comment}" if approval.comment else ""),
        )
        if approval.decision == ApprovalDecision.APPROVED:
            effect.apply(approval, decided_by)
    if why_void:
        raise Conflict(f"{approval}: {why_void}")
    return approval


def _effect(approval: Approval) -> ApprovalEffect:
    try:
        return _EFFECTS[approval.kind]
    except KeyError:
        raise InvalidInput(f"no effect is registered for {approval.kind} approvals") from None


def _promotion_still_valid(approval: Approval) -> str:
    version = StrategyVersion.objects.filter(pk=int(approval.subject_id)).first()
    if version is None:
        return "the strategy version no longer exists"
    if (version.config_hash, version.model_hash) != (approval.config_hash, approval.model_hash):
        return "the config or model changed since the request"
    if PROMOTIONS.get(version.stage) != approval.stage:
        return f"the version is {version.stage} now"
    return ""


def _promotion_apply(approval: Approval, decided_by) -> None:
    version = StrategyVersion.objects.get(pk=int(approval.subject_id))
    version.stage = approval.stage
    version.save(update_fields=["stage", "updated_at"])
    audit(actor=decided_by, action="strategy_version.promote", subject=version, summary=f"{version}")


approval_effect_register(ApprovalKind.PROMOTION, ApprovalEffect(_promotion_still_valid, _promotion_apply))
