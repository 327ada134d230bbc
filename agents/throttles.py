"""Agent tool calls are throttled per user and agent (AGENT_TOOLS_THROTTLE, e.g. "120/min"): one
agent that loops cannot starve the others, nor a person's writes. The API applies it as a DRF
throttle (429 with Retry-After); the MCP server asks the same throttle before each call."""

from types import SimpleNamespace

from rest_framework.throttling import SimpleRateThrottle

from agents.registry import tool_agent
from quantsite.throttles import SettingsRate


class AgentToolRateThrottle(SettingsRate, SimpleRateThrottle):
    scope = "agent_tools"

    def get_cache_key(self, request, view) -> str | None:
        agent = tool_agent(view.kwargs.get("name", ""))
        if agent is None or not request.user.is_authenticated:
            return None  # an unknown tool is a 404; no user, a 401
        return self.cache_format % {"scope": self.scope, "ident": f"{request.user.pk}:{agent}"}


def agent_call_wait(*, actor, name: str) -> float | None:
    """Counts a call of tool name by actor outside a request (the MCP server): None when it may go
    on, else the seconds to wait."""
    throttle = AgentToolRateThrottle()
    if throttle.allow_request(SimpleNamespace(user=actor), SimpleNamespace(kwargs={"name": name})):
        return None
    return throttle.wait()
