"""The agent tool registry: the seed's five agents and the tools each app declares for them in its
tools.py (collected when Django starts: agents.apps).

A tool is a typed function whose first parameter is the acting user; its other parameters become a
pydantic model, which both validates a call's arguments and gives the JSON schema that the API and
the MCP server publish. Its docstring is its description.
"""

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from marketdata.core.errors import InvalidInput, NotFound, validation_message
from quantsite.roles import ROLES

AGENTS = {
    "data": "Fetches and validates market data",
    "strategy": "Computes features, loads models, generates signals and backtests strategies",
    "risk": "Enforces the risk policies: pre-trade checks, exposure, the kill switch, risk reports",
    "execution": "Places orders through the risk manager, follows them, reads and reconciles positions",
    "monitoring": "Tracks the platform's health: metrics, health checks, alerts, daily summaries",
}


class Arguments(BaseModel):
    """A tool's arguments: exactly its parameters, nothing else."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Tool:
    name: str
    agent: str
    role: str
    description: str
    arguments: type[Arguments]
    function: Callable[..., Any]

    def input_schema(self) -> dict[str, Any]:
        return self.arguments.model_json_schema()

    def validate(self, arguments: Any) -> Arguments:
        """The arguments checked against the tool's signature; InvalidInput names each problem."""
        if not isinstance(arguments, dict):
            raise InvalidInput(f"{self.name}: the arguments are an object of named values")
        try:
            return self.arguments.model_validate(arguments)
        except ValidationError as exc:
            errors = [
                {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                for e in exc.errors(include_url=False)
            ]
            raise InvalidInput(
                validation_message(exc, f"{self.name}: invalid arguments"), details={"errors": errors}
            ) from None

    def call(self, actor, arguments: Arguments) -> Any:
        return self.function(
            actor, **{name: getattr(arguments, name) for name in type(arguments).model_fields}
        )


_TOOLS: dict[str, Tool] = {}


def tool(*, agent: str, role: str) -> Callable[[Callable], Callable]:
    """Register the decorated function as a tool of agent, callable by holders of role."""
    if agent not in AGENTS:
        raise ValueError(f"unknown agent {agent!r}; the agents: {', '.join(AGENTS)}")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; the roles: {', '.join(ROLES)}")

    def register(function: Callable) -> Callable:
        name = function.__name__
        if name in _TOOLS and _TOOLS[name].function is not function:
            raise ValueError(f"two agent tools are named {name!r}")
        _TOOLS[name] = Tool(
            name=name,
            agent=agent,
            role=role,
            description=_unwrapped(inspect.getdoc(function) or ""),
            arguments=_arguments_model(function),
            function=function,
        )
        return function

    return register


def _unwrapped(text: str) -> str:
    """A docstring's paragraphs, each on one line (a model reads them; the source wraps them)."""
    return "\n\n".join(" ".join(part.split()) for part in text.split("\n\n"))


def _arguments_model(function: Callable) -> type[Arguments]:
    """A pydantic model of the function's parameters after the first (the acting user)."""
    hints = typing.get_type_hints(function, include_extras=True)
    fields = {}
    for parameter in list(inspect.signature(function).parameters.values())[1:]:
        if parameter.name not in hints:
            raise TypeError(f"{function.__name__}: parameter {parameter.name!r} has no type")
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (hints[parameter.name], default)
    title = "".join(part.title() for part in function.__name__.split("_"))
    return create_model(f"{title}Arguments", __base__=Arguments, **fields)


def tool_list() -> list[Tool]:
    """Every tool, by agent (in AGENTS' order), then by name."""
    order = list(AGENTS)
    return sorted(_TOOLS.values(), key=lambda t: (order.index(t.agent), t.name))


def tool_get(*, name: str) -> Tool:
    try:
        return _TOOLS[name]
    except KeyError:
        raise NotFound(f"no agent tool {name!r}; the tools: {', '.join(sorted(_TOOLS))}") from None


def tool_agent(name: str) -> str | None:
    """The agent of the tool called name (None: no such tool)."""
    found = _TOOLS.get(name)
    return None if found is None else found.agent
