"""Strategies API: the model registry (read-only), strategy versions with their lifecycle actions,
and approvals with their decisions."""

from abc import ABCMeta, abstractmethod

from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backtests.api import BacktestRunSerializer
from backtests.selectors import backtest_run_list
from execution.models import TradingSessionRecord
from execution.selectors import trading_session_latest_get
from quantsite.permissions import OperatorWrites
from quantsite.roles import user_roles
from quantsite.schema import error
from quantsite.viewsets import SelectorViewSet
from risk.core.state import TradingState, strictest
from risk.selectors import platform_state_get
from risk.services import strategy_pause, strategy_resume
from strategies.choices import StrategyStage
from strategies.filters import ApprovalFilter, StrategyVersionFilter
from strategies.lifecycle_services import (
    DECIDERS,
    approval_decide,
    promotion_request,
    strategy_version_enable,
    strategy_version_retire,
)
from strategies.models import Approval, StrategyVersion, TrainedModel
from strategies.selectors import (
    approval_get,
    approval_list,
    strategy_version_get,
    strategy_version_list,
    version_approval_list,
)

RECENT_RUNS = 20

SUMMARY_FIELDS = [
    "id",
    "model_type",
    "label",
    "feature_set",
    "feature_set_version",
    "symbols",
    "timeframe",
    "rows",
    "status",
    "validation",
    "created_at",
]


class TrainedModelSerializer(serializers.ModelSerializer):
    overall = serializers.SerializerMethodField(
        help_text="Cross-validation figures over every out-of-fold row."
    )

    class Meta:
        model = TrainedModel
        fields = [*SUMMARY_FIELDS, "overall"]

    def get_overall(self, model: TrainedModel) -> dict:
        return model.metrics.get("overall", {})


class TrainedModelDetailSerializer(TrainedModelSerializer):
    class Meta:
        model = TrainedModel
        fields = [
            *SUMMARY_FIELDS,
            "overall",
            "metrics",
            "importance",
            "params",
            "training_start",
            "training_end",
            "content_hash",
            "retrain_weekly",
            "retrained_from",
            "latest_predictions",
        ]

    latest_predictions = serializers.SerializerMethodField(
        help_text="The model's predictions at the newest bar predicted, per instrument."
    )

    def get_latest_predictions(self, model: TrainedModel) -> list[dict]:
        newest = model.predictions.order_by("-ts").values_list("ts", flat=True).first()
        if newest is None:
            return []
        return [
            {"symbol": p.instrument.symbol, "ts": p.ts.isoformat(), "values": p.values}
            for p in model.predictions.filter(ts=newest).select_related("instrument")
        ]


class TrainedModelViewSet(viewsets.ReadOnlyModelViewSet):
    """The model registry: each model's training, validation figures and feature importance."""

    queryset = TrainedModel.objects.all()
    filterset_fields = ["status", "model_type", "timeframe"]
    ordering_fields = ["created_at", "id"]

    def get_serializer_class(self):
        return TrainedModelDetailSerializer if self.action == "retrieve" else TrainedModelSerializer


# --- strategy versions -----------------------------------------------------------------------------


class TradingStateSummarySerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=[s.value for s in TradingState], help_text="the version's own state"
    )
    reason = serializers.CharField()
    flatten_requested = serializers.BooleanField(help_text="the kill switch asked its session to flatten")
    platform = serializers.ChoiceField(choices=[s.value for s in TradingState], help_text="the global state")
    effective = serializers.ChoiceField(
        choices=[s.value for s in TradingState], help_text="the stricter of the two: what it trades under"
    )


class StrategyVersionSerializer(serializers.ModelSerializer):
    """A version in a list: its identity, stage, switch and the trading state it trades under."""

    strategy = serializers.SerializerMethodField(help_text="the strategy it configures (momentum, ...)")
    timeframe = serializers.SerializerMethodField()
    universe = serializers.SerializerMethodField()
    trading_state = serializers.SerializerMethodField()
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = StrategyVersion
        fields = [
            "id",
            "name",
            "version",
            "strategy",
            "timeframe",
            "universe",
            "stage",
            "enabled",
            "model",
            "trading_state",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_strategy(self, version: StrategyVersion) -> str:
        return version.config.get("strategy", "")

    def get_timeframe(self, version: StrategyVersion) -> str:
        return version.config.get("timeframe", "")

    def get_universe(self, version: StrategyVersion) -> list[str]:
        return list(version.config.get("universe", []))

    @extend_schema_field(TradingStateSummarySerializer)
    def get_trading_state(self, version: StrategyVersion) -> dict:
        platform = TradingState(self.context["platform_state"])
        own = TradingState(version.state)
        return {
            "state": own.value,
            "reason": version.state_reason,
            "flatten_requested": version.flatten_requested,
            "platform": platform.value,
            "effective": strictest(platform, own).value,
        }


class ApprovalSerializer(serializers.ModelSerializer):
    stage = serializers.ChoiceField(
        choices=StrategyStage.choices, allow_blank=True, read_only=True, help_text="a promotion's target"
    )
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    decided_by = serializers.CharField(
        source="decided_by.username", read_only=True, allow_null=True, default=None
    )
    payload = serializers.JSONField(read_only=True, help_text="what is asked: the new risk limits, ...")

    class Meta:
        model = Approval
        fields = [
            "id",
            "kind",
            "subject_type",
            "subject_id",
            "stage",
            "requested_by",
            "requested_at",
            "request_comment",
            "decision",
            "decided_by",
            "decided_at",
            "comment",
            "config_hash",
            "model_hash",
            "payload",
        ]
        read_only_fields = fields


def approval_created(approval: Approval) -> Response:
    """201 with the pending approval a request made, read back with its people."""
    return Response(ApprovalSerializer(approval_get(approval_id=approval.pk)).data, status=201)


class TradingSessionSerializer(serializers.ModelSerializer):
    class Meta:
        model = TradingSessionRecord
        fields = [
            "id",
            "mode",
            "broker",
            "status",
            "host",
            "steps",
            "reason",
            "started_at",
            "beat_at",
            "ended_at",
        ]
        read_only_fields = fields


class StrategyVersionDetailSerializer(StrategyVersionSerializer):
    config = serializers.JSONField(read_only=True, help_text="the StrategyConfig")
    runs = serializers.SerializerMethodField(help_text=f"its latest backtest runs (at most {RECENT_RUNS})")
    approvals = serializers.SerializerMethodField(help_text="its promotion requests, newest first")
    session = serializers.SerializerMethodField(help_text="its latest trading session")

    class Meta(StrategyVersionSerializer.Meta):
        fields = [
            *StrategyVersionSerializer.Meta.fields,
            "config",
            "config_hash",
            "model_hash",
            "runs",
            "approvals",
            "session",
        ]
        read_only_fields = fields

    @extend_schema_field(BacktestRunSerializer(many=True))
    def get_runs(self, version: StrategyVersion) -> list[dict]:
        runs = backtest_run_list().filter(strategy_version=version).order_by("-created_at", "-id")
        return BacktestRunSerializer(runs[:RECENT_RUNS], many=True, context=self.context).data

    @extend_schema_field(ApprovalSerializer(many=True))
    def get_approvals(self, version: StrategyVersion) -> list[dict]:
        return ApprovalSerializer(version_approval_list(version=version), many=True).data

    @extend_schema_field(TradingSessionSerializer(allow_null=True))
    def get_session(self, version: StrategyVersion) -> dict | None:
        session = trading_session_latest_get(version=version)
        return None if session is None else TradingSessionSerializer(session).data


class _PlatformStateContext:
    """Views that serialize versions read the platform's state once per request."""

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "platform_state": platform_state_get()}


@extend_schema_view(
    list=extend_schema(
        summary="Strategy versions, each with the trading state it trades under",
        description="Filter by name, search (name contains), strategy, stage (several), enabled and state.",
    ),
    retrieve=extend_schema(
        summary="A strategy version: config and its hash, backtest runs, approvals, trading state, session"
    ),
)
class StrategyVersionViewSet(_PlatformStateContext, SelectorViewSet):
    filterset_class = StrategyVersionFilter
    ordering_fields = ["name", "version", "stage", "created_at", "updated_at", "id"]
    ordering = ["name", "-version"]

    rows, noun = staticmethod(strategy_version_list), "strategy version"

    def get_serializer_class(self):
        return StrategyVersionDetailSerializer if self.action == "retrieve" else StrategyVersionSerializer


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="why (kept in the audit trail)")


class OptionalReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)


class StrategyActionApi(APIView, metaclass=ABCMeta):
    """A POST that acts on a strategy version (operator) and answers with the version as it is after.
    Each action names its input and what it does (act)."""

    input_serializer: type[serializers.Serializer] | None = None

    @abstractmethod
    def act(self, version: StrategyVersion, user, data: dict) -> None:
        """Carry the action out on version, for user, with the validated input."""

    def post(self, request: Request, pk) -> Response:
        version = strategy_version_get(version_id=pk)
        self.check_object_permissions(request, version)
        data = {}
        if self.input_serializer is not None:
            given = self.input_serializer(data=request.data)
            given.is_valid(raise_exception=True)
            data = given.validated_data
        self.act(version, request.user, data)
        version = strategy_version_get(version_id=pk)
        context = {"request": request, "platform_state": platform_state_get()}
        return Response(StrategyVersionDetailSerializer(version, context=context).data)


def _strategy_action(summary: str, description: str, request, conflict: str = ""):
    responses = {200: StrategyVersionDetailSerializer}
    if conflict:
        responses[409] = error(conflict)
    return extend_schema(summary=summary, description=description, request=request, responses=responses)


class StrategyRetireApi(StrategyActionApi):
    input_serializer = ReasonSerializer

    @_strategy_action(
        "Retire a strategy version (operator)",
        "RETIRED for good: its open and granted approvals are voided, its session ends. Retiring a "
        "retired version changes nothing.",
        ReasonSerializer,
    )
    def post(self, request: Request, pk) -> Response:
        return super().post(request, pk)

    def act(self, version, user, data) -> None:
        strategy_version_retire(version=version, by=user, reason=data["reason"])


class StrategyPauseApi(StrategyActionApi):
    input_serializer = ReasonSerializer

    @_strategy_action(
        "Pause a strategy version (operator)",
        "REDUCING: it opens nothing new but may still close what it holds. A HALTED version stays "
        "HALTED (409): leaving that needs an approved reset.",
        ReasonSerializer,
        "the version is HALTED",
    )
    def post(self, request: Request, pk) -> Response:
        return super().post(request, pk)

    def act(self, version, user, data) -> None:
        strategy_pause(version=version, by=user, reason=data["reason"])


class StrategyResumeApi(StrategyActionApi):
    @_strategy_action(
        "Resume a paused strategy version (operator)",
        "ACTIVE again. 409 when it is not paused, or HALTED (leaving that needs an approved reset).",
        None,
        "not paused, or HALTED",
    )
    def post(self, request: Request, pk) -> Response:
        return super().post(request, pk)

    def act(self, version, user, data) -> None:
        strategy_resume(version=version, by=user)


class StrategyEnableApi(StrategyActionApi):
    input_serializer = OptionalReasonSerializer
    enabled = True

    @_strategy_action(
        "Enable a strategy version (operator)",
        "It gets a trading session again when its stage lets it trade. Enabling an enabled version "
        "changes nothing.",
        OptionalReasonSerializer,
    )
    def post(self, request: Request, pk) -> Response:
        return super().post(request, pk)

    def act(self, version, user, data) -> None:
        strategy_version_enable(version=version, enabled=self.enabled, by=user, reason=data["reason"])


class StrategyDisableApi(StrategyEnableApi):
    enabled = False

    @_strategy_action(
        "Disable a strategy version (operator)",
        "It gets no trading session, and a running one stops at its next look; its stage and "
        "approvals stay. Disabling a disabled version changes nothing.",
        OptionalReasonSerializer,
    )
    def post(self, request: Request, pk) -> Response:
        return super().post(request, pk)


class StrategyPromotionRequestApi(APIView):
    @extend_schema(
        summary="Ask for a strategy version's next stage (operator)",
        description=(
            "A pending promotion approval (draft -> backtest_approved, backtested -> paper_approved, "
            "paper -> live_approved), holding the hashes of the config and model; another person "
            "decides it (POST /api/v1/controls/approvals/{id}/approve/). 409 when the stage cannot be "
            "promoted or a request is already waiting."
        ),
        request=CommentSerializer,
        responses={201: ApprovalSerializer, 409: error("not promotable now, or already requested")},
    )
    def post(self, request: Request, pk) -> Response:
        version = strategy_version_get(version_id=pk)
        self.check_object_permissions(request, version)
        given = CommentSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        approval = promotion_request(version=version, requested_by=request.user, **given.validated_data)
        return approval_created(approval)


# --- approvals -------------------------------------------------------------------------------------


class ApprovalDeciders(BasePermission):
    """Deciding an approval needs a role that may decide its kind (a risk officer for risk limits and
    resets); the service checks it again, with four-eyes."""

    message = "deciding this kind of approval needs another role"

    def has_object_permission(self, request, view, approval: Approval) -> bool:
        deciders = DECIDERS.get(approval.kind, set())
        if user_roles(request.user) & deciders:
            return True
        self.message = f"deciding a {approval.kind} approval needs the role {' or '.join(sorted(deciders))}"
        return False


@extend_schema_view(
    list=extend_schema(
        summary="Approvals (promotions, risk-limit changes, resets), newest first",
        description="Filter by decision (several), kind, strategy_version and requested_by.",
    ),
    retrieve=extend_schema(summary="An approval"),
)
class ApprovalViewSet(SelectorViewSet):
    serializer_class = ApprovalSerializer
    filterset_class = ApprovalFilter
    ordering_fields = ["requested_at", "decided_at", "id"]
    ordering = ["-requested_at", "-id"]

    rows, noun = staticmethod(approval_list), "approval"


class ApprovalApproveApi(APIView):
    permission_classes = [OperatorWrites, ApprovalDeciders]
    approve = True

    @extend_schema(
        summary="Approve a pending request (four-eyes)",
        description=(
            "Never by its requester (403). Promotions: an operator, risk officer or admin; risk-limit "
            "changes and resets: a risk officer or admin (403 otherwise). What it approves is carried "
            "out at once (the stage, the new limits, ACTIVE again). 409 when it was decided already, "
            "or when what it approved changed since (it is then voided)."
        ),
        request=CommentSerializer,
        responses={200: ApprovalSerializer, 409: error("already decided, or voided")},
    )
    def post(self, request: Request, pk) -> Response:
        approval = approval_get(approval_id=pk)
        self.check_object_permissions(request, approval)
        given = CommentSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        approval_decide(
            approval=approval, decided_by=request.user, approve=self.approve, **given.validated_data
        )
        return Response(ApprovalSerializer(approval_get(approval_id=pk)).data)


class ApprovalRejectApi(ApprovalApproveApi):
    approve = False

    @extend_schema(
        summary="Reject a pending request (four-eyes)",
        description="Never by its requester; the roles of approving. 409 when it was decided already.",
        request=CommentSerializer,
        responses={200: ApprovalSerializer, 409: error("already decided, or voided")},
    )
    def post(self, request: Request, pk) -> Response:
        return super().post(request, pk)
