"""Agents API: the tools by agent with their JSON schemas, calling one, and the recorded calls."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.filters import ToolCallFilter
from agents.models import ToolCall
from agents.registry import AGENTS, tool_list
from agents.selectors import tool_call_list
from agents.services import tool_invoke
from agents.throttles import AgentToolRateThrottle
from quantsite.permissions import RolePermission
from quantsite.roles import VIEWER, has_role
from quantsite.schema import error
from quantsite.throttles import AnonymousRateThrottle
from quantsite.viewsets import SelectorViewSet


class AnyRoleCalls(RolePermission):
    """Calling a tool needs a role; each tool then asks for its own."""

    write_role = VIEWER


class ToolSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    role = serializers.CharField(help_text="the role a caller needs: viewer, operator, risk_officer or admin")
    allowed = serializers.BooleanField(help_text="whether the caller holds that role")
    input_schema = serializers.DictField(help_text="the JSON schema of its arguments")


class AgentSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    tools = ToolSerializer(many=True)


class AgentsSerializer(serializers.Serializer):
    agents = AgentSerializer(many=True)


class AgentToolListApi(APIView):
    @extend_schema(
        summary="The agent tools, by agent, with the role each needs and the JSON schema of its arguments",
        responses={200: AgentsSerializer},
    )
    def get(self, request: Request) -> Response:
        tools = [
            {
                "name": t.name,
                "agent": t.agent,
                "description": t.description,
                "role": t.role,
                "allowed": has_role(request.user, t.role),
                "input_schema": t.input_schema(),
            }
            for t in tool_list()
        ]
        agents = [
            {"name": name, "description": about, "tools": [t for t in tools if t["agent"] == name]}
            for name, about in AGENTS.items()
        ]
        return Response(AgentsSerializer({"agents": agents}).data)


class InvokeInputSerializer(serializers.Serializer):
    arguments = serializers.DictField(
        required=False, default=dict, help_text="the tool's arguments, as its input_schema describes them"
    )


class InvokeOutputSerializer(serializers.Serializer):
    call = serializers.IntegerField(help_text="the call's record (GET /api/v1/agents/calls/{id}/)")
    tool = serializers.CharField()
    agent = serializers.CharField()
    duration_ms = serializers.FloatField()
    result = serializers.JSONField(help_text="what the tool answered: plain JSON")


class AgentToolInvokeApi(APIView):
    permission_classes = [AnyRoleCalls]
    throttle_classes = [AgentToolRateThrottle, AnonymousRateThrottle]

    @extend_schema(
        summary="Call an agent tool as the caller (the role the tool needs; throttled per user and agent)",
        description=(
            "The arguments are validated against the tool's schema (400 naming each problem); the tool "
            "runs as the caller, through the same services as the pages and the API, with their checks: "
            "the caller's role (403), the risk manager and the trading states (409), a broker not "
            "configured (503). Calls are throttled per user and agent (AGENT_TOOLS_THROTTLE: 429 with "
            "Retry-After). Every call is recorded (GET /api/v1/agents/calls/)."
        ),
        request=InvokeInputSerializer,
        responses={
            200: InvokeOutputSerializer,
            404: error("no tool of that name"),
            409: error("refused by a service: the risk manager, a trading state, a stage"),
            503: error("a broker or provider not configured or not reachable"),
        },
    )
    def post(self, request: Request, name: str) -> Response:
        given = InvokeInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        called = tool_invoke(
            actor=request.user, name=name, arguments=given.validated_data["arguments"], via="api"
        )
        body = {
            "call": called.call.pk,
            "tool": called.call.tool,
            "agent": called.call.agent,
            "duration_ms": called.call.duration_ms,
            "result": called.result,
        }
        return Response(InvokeOutputSerializer(body).data)


class ToolCallSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = ToolCall
        fields = [
            "id",
            "user",
            "agent",
            "tool",
            "via",
            "arguments",
            "ok",
            "result",
            "error",
            "message",
            "duration_ms",
            "called_at",
        ]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="Agent tool calls, newest first"),
    retrieve=extend_schema(summary="An agent tool call"),
)
class ToolCallViewSet(SelectorViewSet):
    serializer_class = ToolCallSerializer
    filterset_class = ToolCallFilter
    ordering_fields = ["called_at", "duration_ms", "id"]
    ordering = ["-called_at", "-id"]

    rows, noun = staticmethod(tool_call_list), "tool call"
