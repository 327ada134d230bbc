"""The agents' own tool: reading an agent's memory."""

from typing import Literal

from django.conf import settings

from agents.memory import agent_memory
from agents.registry import AGENTS, tool
from quantsite.roles import VIEWER

AgentName = Literal[tuple(AGENTS)]


@tool(agent="monitoring", role=VIEWER)
def get_agent_memory(actor, agent: AgentName) -> dict:
    """An agent's short-term memory (e.g. the data agent's last fetch of each symbol, the execution
    agent's last order): each entry's value and the seconds until it expires. Kept in Redis when
    REDIS_URL is set, else in the serving process (the API's or the MCP server's) only."""
    memory = agent_memory()
    return {
        "agent": agent,
        "backend": memory.backend,
        "ttl_seconds": settings.AGENT_MEMORY_TTL_SECONDS,
        "entries": memory.entries(agent),
    }
