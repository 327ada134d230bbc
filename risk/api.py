"""Controls API: the trading states, the kill switch and asking to leave HALTED, and the risk policy
in force with a proposed change (approvals decide both: strategies.api)."""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from execution.api import OrderSerializer
from execution.brokers import order_clients
from quantsite.schema import error
from risk.core.state import TradingState
from risk.models import GLOBAL, TradingStateRecord
from risk.selectors import risk_policy_in_force_get, scope_of, trading_state_records_get
from risk.services import halt_reset_request, kill_switch_engage, risk_policy_change_request
from strategies.api import ApprovalSerializer, approval_created
from strategies.models import StrategyVersion

STATES = [s.value for s in TradingState]


class TradingStateSerializer(serializers.ModelSerializer):
    strategy_version = serializers.SerializerMethodField(help_text="null for the platform")
    strategy = serializers.SerializerMethodField(help_text='"name vN", null for the platform')
    state = serializers.ChoiceField(choices=STATES, read_only=True)
    changed_by = serializers.CharField(
        source="changed_by.username", read_only=True, allow_null=True, default=None
    )
    changed_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="null: never changed")

    class Meta:
        model = TradingStateRecord
        fields = [
            "scope",
            "strategy_version",
            "strategy",
            "state",
            "reason",
            "flatten_requested",
            "changed_by",
            "changed_at",
        ]
        read_only_fields = fields

    def get_strategy_version(self, record: TradingStateRecord) -> int | None:
        return None if record.scope == GLOBAL else int(record.scope.removeprefix("version:"))

    def get_strategy(self, record: TradingStateRecord) -> str | None:
        version = self.context.get("versions", {}).get(self.get_strategy_version(record))
        return None if version is None else f"{version.name} v{version.version}"


class TradingStatesSerializer(serializers.Serializer):
    platform = TradingStateSerializer(help_text="the global state: every version trades under it too")
    versions = TradingStateSerializer(many=True, help_text="each version with a state of its own")


def _version_field(help_text: str) -> serializers.PrimaryKeyRelatedField:
    return serializers.PrimaryKeyRelatedField(
        queryset=StrategyVersion.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text=help_text,
    )


class TradingStatesApi(APIView):
    @extend_schema(
        summary="The trading states: the platform's and each strategy version's own",
        description="A version trades under the stricter of the platform's state and its own.",
        responses={200: TradingStatesSerializer},
    )
    def get(self, request: Request) -> Response:
        records = trading_state_records_get()
        platform = records.get(GLOBAL) or TradingStateRecord(scope=GLOBAL)
        own = [record for scope, record in sorted(records.items()) if scope != GLOBAL]
        ids = [int(r.scope.removeprefix("version:")) for r in own]
        context = {"versions": StrategyVersion.objects.in_bulk(ids)}
        body = TradingStatesSerializer({"platform": platform, "versions": own}, context=context).data
        return Response(body)


class KillSwitchEngageInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="why (kept in the audit trail)")
    strategy_version = _version_field("halt this version only (default: the whole platform)")
    flatten = serializers.BooleanField(
        default=False, help_text="also close the positions (each session, at its next bar)"
    )


class CancelFailureSerializer(serializers.Serializer):
    order = OrderSerializer()
    message = serializers.CharField(help_text="why its broker could not be reached")


class KillSwitchOutputSerializer(serializers.Serializer):
    state = TradingStateSerializer(help_text="the scope's state now: halted")
    cancelled = OrderSerializer(many=True, help_text="the open orders cancelled (or asked to be)")
    failed = CancelFailureSerializer(many=True, help_text="the open orders whose broker could not be reached")


class KillSwitchEngageApi(APIView):
    @extend_schema(
        summary="Engage the kill switch (operator: stopping is always allowed)",
        description=(
            "HALTED for the platform, or for one strategy version: only cancels pass. Every open order of "
            "the scope is cancelled at its broker (the paper broker's in their session); with flatten, "
            "each session concerned closes its positions at its next bar. Engaging it again is "
            "harmless. Leaving HALTED needs an approved reset (POST /api/v1/controls/kill-switch/reset/)."
        ),
        request=KillSwitchEngageInputSerializer,
        responses={200: KillSwitchOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        given = KillSwitchEngageInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        version = data["strategy_version"]
        cancelled, failed = kill_switch_engage(
            reason=data["reason"],
            by=request.user,
            version=version,
            flatten=data["flatten"],
            client_for=order_clients(),
        )
        record = trading_state_records_get()[scope_of(version)]
        context = {"versions": {} if version is None else {version.pk: version}}
        body = KillSwitchOutputSerializer(
            {
                "state": record,
                "cancelled": cancelled,
                "failed": [{"order": order, "message": why} for order, why in failed],
            },
            context=context,
        ).data
        return Response(body)


class ResetRequestInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="why it is safe to trade again")
    strategy_version = _version_field("the version to reset (default: the platform)")


class KillSwitchResetApi(APIView):
    @extend_schema(
        summary="Ask to leave HALTED (operator; a risk officer decides)",
        description=(
            "A pending halt_reset approval; a risk officer or admin other than the requester approves it "
            "(POST /api/v1/controls/approvals/{id}/approve/), which sets the scope ACTIVE. 409 when the "
            "scope is not halted or a request is already waiting."
        ),
        request=ResetRequestInputSerializer,
        responses={201: ApprovalSerializer, 409: error("not halted, or already requested")},
    )
    def post(self, request: Request) -> Response:
        given = ResetRequestInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        approval = halt_reset_request(
            requested_by=request.user, reason=data["reason"], version=data["strategy_version"]
        )
        return approval_created(approval)


@extend_schema_field({"type": "number"})
class NumberField(serializers.Field):
    """A number as it is: a count stays whole (11 positions), a percentage keeps its decimals."""

    def to_representation(self, value):
        return value


@extend_schema_field({"type": "number", "nullable": True})
class OptionalNumberField(NumberField):
    pass


class RangeSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = NumberField(help_text="in force")
    tightest = NumberField(help_text="its value at level 1")
    loosest = NumberField(help_text="its value at level 10")
    unit = serializers.CharField()
    from_level = serializers.BooleanField(help_text="false: set on its own, inside the range")


class RiskPolicyInForceSerializer(serializers.Serializer):
    scope = serializers.CharField(help_text='the scope asked for: "global" or "version:<id>"')
    strategy_version = serializers.IntegerField(allow_null=True)
    source = serializers.ChoiceField(
        choices=["version", "global", "default"],
        help_text="where the policy in force comes from: the version's own, the global one, or the default",
    )
    policy_version = serializers.IntegerField(
        allow_null=True, help_text="the number of its record in its scope"
    )
    approval = serializers.IntegerField(allow_null=True, help_text="the approval that set it")
    set_by = serializers.CharField(allow_null=True, help_text="who asked for it")
    set_at = serializers.DateTimeField(allow_null=True)
    level = serializers.IntegerField(help_text="1 (tightest) to 10 (loosest)")
    configured = serializers.DictField(help_text="the level and the values set on their own, as set")
    limits = serializers.DictField(child=OptionalNumberField(), help_text="every limit in force (null: off)")
    ranges = RangeSerializer(
        many=True,
        help_text="the ranged limits, their ranges and values: the seed's five, then the options book's "
        "net delta and net vega",
    )
    pending_change = ApprovalSerializer(
        allow_null=True, help_text="a change of this scope waiting for a decision"
    )


class RiskPolicyQuerySerializer(serializers.Serializer):
    strategy_version = _version_field("a version's id (default: the global policy)")


class RiskPolicyChangeInputSerializer(serializers.Serializer):
    values = serializers.DictField(
        help_text='the new policy: {"level": 4, "max_drawdown_pct": 8, "max_net_delta_pct": 20, ...}; '
        "each ranged value inside its range, the others as RiskPolicy allows; what is left out follows "
        "the level or is off"
    )
    strategy_version = _version_field("a version's own policy (default: the global one)")
    comment = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)


class RiskPolicyApi(APIView):
    @extend_schema(
        summary="The risk policy in force for a scope, with its level and ranges",
        parameters=[RiskPolicyQuerySerializer],
        responses={200: RiskPolicyInForceSerializer, 400: error("no such strategy version")},
    )
    def get(self, request: Request) -> Response:
        given = RiskPolicyQuerySerializer(data=request.query_params)
        given.is_valid(raise_exception=True)
        version = given.validated_data["strategy_version"]
        return Response(RiskPolicyInForceSerializer(risk_policy_in_force_get(version=version)).data)

    @extend_schema(
        summary="Propose a risk policy change (operator; a risk officer decides)",
        description=(
            "Checked now (each value inside its range: 400 otherwise), then a pending risk_policy "
            "approval that a risk officer or admin other than the requester approves (POST "
            "/api/v1/controls/approvals/{id}/approve/); the new policy applies from then. 409 when a "
            "change of the scope is already waiting."
        ),
        request=RiskPolicyChangeInputSerializer,
        responses={201: ApprovalSerializer, 409: error("a change of this scope is already waiting")},
    )
    def post(self, request: Request) -> Response:
        given = RiskPolicyChangeInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        approval = risk_policy_change_request(
            values=data["values"],
            requested_by=request.user,
            version=data["strategy_version"],
            comment=data["comment"],
        )
        return approval_created(approval)
