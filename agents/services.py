"""Calling an agent tool: the one path of the API and the MCP server. The tool is found, the caller's
role checked, the arguments validated against its signature, the tool run as the caller, its result
made plain JSON; the call is recorded whatever comes of it (ToolCall)."""

import json
import time
from dataclasses import dataclass
from typing import Any

import structlog
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from agents.models import ToolCall
from agents.registry import tool_get
from marketdata.core.errors import ApplicationError, Forbidden
from quantsite.roles import role_require

log = structlog.get_logger(__name__)
RESULT_KEPT = 2000  # characters of a result kept in its record


@dataclass(frozen=True)
class Called:
    call: ToolCall
    result: Any


def tool_invoke(*, actor, name: str, arguments: Any, via: str) -> Called:
    """Run the tool called name with arguments as actor. NotFound (no such tool), Forbidden (the
    actor's role), InvalidInput (the arguments) and whatever the tool's services raise propagate,
    after the call is recorded."""
    started, called_at = time.perf_counter(), timezone.now()
    record = ToolCall(
        user=actor, tool=name[:100], via=via, arguments=arguments if isinstance(arguments, dict) else {}
    )
    try:
        tool = tool_get(name=name)
        record.agent = tool.agent
        role_require(actor, tool.role, f"call the agent tool {name}")
        result = _plain(tool.call(actor, tool.validate(arguments)))
    except ApplicationError as exc:
        record.ok, record.error, record.message = False, exc.code, exc.message
        raise
    except Exception as exc:  # a bug: recorded, then a 500 as anywhere else
        record.ok, record.error, record.message = False, "internal_error", repr(exc)
        raise
    else:
        record.ok, record.result = True, json.dumps(result)[:RESULT_KEPT]
    finally:
        record.duration_ms = (time.perf_counter() - started) * 1000
        record.called_at = called_at
        record.save()
        log.info("agent tool called", tool=name, user=actor.get_username(), via=via, ok=record.ok)
    return Called(record, result)


def _plain(value: Any) -> Any:
    """value as plain JSON (Decimals and times as strings); a NaN is a bug of the tool."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, allow_nan=False))


def live_trading_require(actor) -> None:
    """Agents trade paper; live only for a user an admin granted agents.trade_live (in the admin:
    the user's or a group's permissions; a superuser holds every permission)."""
    if not actor.has_perm("agents.trade_live"):
        raise Forbidden(
            "an agent places live orders only for a user granted live rights "
            "(the permission agents.trade_live, given in the admin); paper is open to operators"
        )
