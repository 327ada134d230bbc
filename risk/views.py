"""The Controls page: the global kill switch (a reason and a confirmation), each trading strategy's
pause and resume, the risk policy in force with its proposed changes, and the requests a risk
officer decides (risk limits, leaving HALTED)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render

from execution.brokers import order_clients
from marketdata.core.errors import InvalidInput
from quantsite.console import action
from quantsite.roles import OPERATOR
from risk.core.policy import LEVELS, RANGES
from risk.models import GLOBAL
from risk.selectors import effective_state, trading_state_records_get
from risk.services import (
    halt_reset_request,
    kill_switch_engage,
    risk_policy_change_request,
    risk_policy_get,
    scope_of,
    strategy_pause,
    strategy_resume,
)
from strategies.choices import ApprovalDecision, ApprovalKind, StrategyStage
from strategies.lifecycle_services import approval_decidable
from strategies.models import Approval, StrategyVersion

TRADING_STAGES = [
    StrategyStage.PAPER_APPROVED,
    StrategyStage.PAPER,
    StrategyStage.LIVE_APPROVED,
    StrategyStage.LIVE,
]


@login_required
def controls(request):
    records = trading_state_records_get()
    versions = StrategyVersion.objects.filter(stage__in=TRADING_STAGES).order_by("name", "-version")
    policy = risk_policy_get()
    values = policy.values()
    pending = Approval.objects.filter(
        kind__in=[ApprovalKind.RISK_POLICY, ApprovalKind.HALT_RESET], decision=ApprovalDecision.PENDING
    ).select_related("requested_by")
    overridden = policy.overridden()
    context = {
        "platform": records.get(GLOBAL),
        "platform_state": effective_state(records, GLOBAL),
        "strategies": [
            (v, records.get(scope_of(v)), effective_state(records, scope_of(v))) for v in versions
        ],
        "policy": policy,
        "ranged": [
            (name, values[name], tight, loose, unit, name in overridden)
            for name, (tight, loose, unit) in RANGES.items()
        ],
        "others": [(name, value) for name, value in values.items() if name not in RANGES and name != "level"],
        "levels": range(LEVELS[0], LEVELS[1] + 1),
        "pending": [(a, approval_decidable(approval=a, user=request.user)) for a in pending],
    }
    return render(request, "risk/controls.html", context)


@action(OPERATOR)
def kill_switch_engage_view(request):
    if request.POST.get("confirm") != "yes":
        raise InvalidInput("the kill switch needs its confirmation ticked")
    cancelled, failed = kill_switch_engage(
        reason=request.POST.get("reason", ""),
        by=request.user,
        flatten=request.POST.get("flatten") == "yes",
        client_for=order_clients(),
    )
    messages.success(request, f"Trading HALTED: {len(cancelled)} open order(s) cancelled")
    for order, why in failed:
        messages.error(request, f"NOT cancelled: {order}: {why}")
    return redirect("controls")


@action(OPERATOR)
def strategy_pause_view(request, pk: int):
    version = get_object_or_404(StrategyVersion, pk=pk)
    strategy_pause(version=version, by=request.user, reason=request.POST.get("reason", ""))
    messages.success(request, f"{version.name} v{version.version} paused: it only closes positions now")
    return redirect("controls")


@action(OPERATOR)
def strategy_resume_view(request, pk: int):
    version = get_object_or_404(StrategyVersion, pk=pk)
    strategy_resume(version=version, by=request.user)
    messages.success(request, f"{version.name} v{version.version} resumed")
    return redirect("controls")


@action(OPERATOR)
def halt_reset_request_view(request):
    pk = request.POST.get("strategy")
    version = get_object_or_404(StrategyVersion, pk=pk) if pk else None
    approval = halt_reset_request(
        requested_by=request.user, reason=request.POST.get("reason", ""), version=version
    )
    messages.success(request, f"{approval} requested: a risk officer other than you decides it")
    return redirect("controls")


@action(OPERATOR)
def risk_policy_propose_view(request):
    values = {}
    for name in ("level", *RANGES):
        if request.POST.get(name):
            values[name] = request.POST[name]
    approval = risk_policy_change_request(
        values=values, requested_by=request.user, comment=request.POST.get("comment", "")
    )
    messages.success(request, f"{approval} requested: a risk officer other than you decides it")
    return redirect("controls")
