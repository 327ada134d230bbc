"""Operator pages of strategies: the versions with their stage and trading state, a version's
config, runs and approvals, and its lifecycle actions (request a promotion; approve or reject a
request as a second person)."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render

from quantsite.console import action, back
from quantsite.roles import OPERATOR
from risk.selectors import effective_state, trading_state_records_get
from risk.services import scope_of
from strategies.choices import ApprovalDecision
from strategies.lifecycle_services import PROMOTIONS, approval_decidable, approval_decide, promotion_request
from strategies.models import Approval, StrategyVersion


@login_required
def strategy_list(request):
    records = trading_state_records_get()
    versions = StrategyVersion.objects.select_related("created_by").order_by("name", "-version")
    rows = [(v, effective_state(records, scope_of(v))) for v in versions]
    return render(request, "strategies/strategy_list.html", {"rows": rows, "title": "Strategies"})


@login_required
def strategy_detail(request, pk: int):
    version = get_object_or_404(StrategyVersion.objects.select_related("created_by", "model"), pk=pk)
    records = trading_state_records_get()
    approvals = Approval.objects.filter(
        subject_type="strategyversion", subject_id=str(version.pk)
    ).select_related("requested_by", "decided_by")
    decidable = {a.pk for a in approvals if approval_decidable(approval=a, user=request.user)}
    context = {
        "version": version,
        "state": effective_state(records, scope_of(version)),
        "state_record": records.get(scope_of(version)),
        "config": json.dumps(version.config, indent=2, sort_keys=True),
        "runs": version.backtest_runs.order_by("-created_at")[:20],
        "approvals": approvals,
        "decidable": decidable,
        "promotable": version.stage in PROMOTIONS
        and not any(a.decision == ApprovalDecision.PENDING for a in approvals),
        "next_stage": PROMOTIONS.get(version.stage),
        "title": str(version),
    }
    return render(request, "strategies/strategy_detail.html", context)


@action(OPERATOR)
def strategy_promote(request, pk: int):
    version = get_object_or_404(StrategyVersion, pk=pk)
    approval = promotion_request(
        version=version, requested_by=request.user, comment=request.POST.get("comment", "")
    )
    messages.success(request, f"{approval} requested: a second person decides it")
    return redirect("strategy-detail", pk=version.pk)


@action(OPERATOR)
def approval_decide_view(request, pk: int):
    """Approve or reject a request; the service checks four-eyes and the role its kind needs."""
    approval = get_object_or_404(Approval, pk=pk)
    approve = request.POST.get("decision") == "approve"
    decided = approval_decide(
        approval=approval, decided_by=request.user, approve=approve, comment=request.POST.get("comment", "")
    )
    messages.success(request, f"{decided}")
    return back(request)
