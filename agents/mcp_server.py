"""The agent tools over the Model Context Protocol, acting as one user: the tools their roles allow
are listed, and each call goes through tool_invoke (recorded, via "mcp") after the same throttle as
the API's. Over stdio (an MCP client starts `manage.py mcp_server`), or streamable HTTP where every
request carries the user's API token."""

import hmac
import json
import socket

import anyio
import mcp_types as types
import uvicorn
from asgiref.sync import sync_to_async
from django.db import close_old_connections
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from rest_framework.authtoken.models import Token
from starlette.responses import JSONResponse

from agents.registry import tool_list
from agents.services import tool_invoke
from agents.throttles import agent_call_wait
from marketdata.core.errors import ApplicationError
from quantsite.roles import has_role

NAME = "quant-platform"


def mcp_server_build(user) -> Server:
    """An MCP server whose tools are the registry's that user may call, called as user."""

    async def list_tools(ctx, params) -> types.ListToolsResult:
        tools = await sync_to_async(_allowed)(user)
        return types.ListToolsResult(
            tools=[
                types.Tool(name=t.name, description=t.description, input_schema=t.input_schema())
                for t in tools
            ]
        )

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        return await sync_to_async(_call)(user, params.name, params.arguments or {})

    return Server(NAME, on_list_tools=list_tools, on_call_tool=call_tool)


def _allowed(user) -> list:
    close_old_connections()  # a long-lived server: as Django does before each request
    return [t for t in tool_list() if has_role(user, t.role)]


def _call(user, name: str, arguments: dict) -> types.CallToolResult:
    close_old_connections()
    wait = agent_call_wait(actor=user, name=name)
    if wait is not None:
        return _error(
            "throttled", f"too many calls of this agent's tools: retry in {wait:.0f} s", {"wait": wait}
        )
    try:
        called = tool_invoke(actor=user, name=name, arguments=arguments, via="mcp")
    except ApplicationError as exc:
        return _error(exc.code, exc.message, exc.details)
    structured = called.result if isinstance(called.result, dict) else {"result": called.result}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(called.result))],
        structured_content=structured,
    )


def _error(code: str, message: str, details: dict) -> types.CallToolResult:
    """An error as the API words it ({"error", "message", "details"}), marked as one for the model."""
    body = {"error": code, "message": message, "details": details}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(body))], is_error=True
    )


def serve_stdio(user) -> None:
    server = mcp_server_build(user)

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)


class TokenRequired:
    """ASGI: an HTTP request passes only with the user's API token (Authorization: Bearer <token>,
    or Token <token> as the REST API takes it), read at each request (a revoked token stops at once)."""

    def __init__(self, app, user) -> None:
        self.app, self.user = app, user

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not await self._authorized(scope):
            body = {
                "error": "not_authenticated",
                "message": "the user's API token is required",
                "details": {},
            }
            answer = JSONResponse(body, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="mcp"'})
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _authorized(self, scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        scheme, _, given = header.partition(" ")
        if scheme.lower() not in {"bearer", "token"} or not given:
            return False
        key = await sync_to_async(_token_of)(self.user)
        return key is not None and hmac.compare_digest(given.strip(), key)


def _token_of(user) -> str | None:
    close_old_connections()
    return Token.objects.filter(user=user).values_list("key", flat=True).first()


def serve_http(user, *, host: str, port: int, announce) -> None:
    """Serve streamable HTTP at http://host:port/mcp; announce(url) once it listens (port 0: any free
    port)."""
    app = TokenRequired(mcp_server_build(user).streamable_http_app(host=host), user)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)  # connections wait in the backlog until the server accepts them
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    announce(f"http://{host}:{bound}/mcp")
    server.run(sockets=[sock])
