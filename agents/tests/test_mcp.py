"""The MCP server end to end: `manage.py mcp_server` started as a subprocess by the mcp client library
(stdio), and over streamable HTTP with the user's token. The server is another process, so it runs on
a SQLite file of its own, migrated and seeded by the commands a person would run."""

import json
import os
import queue
import subprocess
import sys
import threading

import anyio
import httpx2
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from agents.registry import tool_list

SEED = """
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from risk.services import kill_switch_engage
vera = User.objects.create_user("vera")
vera.groups.add(Group.objects.get(name="viewer"))
olga = User.objects.create_user("olga")
olga.groups.add(Group.objects.get(name="operator"))
Token.objects.create(user=vera, key="vera-token-0123456789")
kill_switch_engage(reason="drill", by=olga)
"""
CALLS = """
import json
from agents.models import ToolCall
print(json.dumps([[c.user.username, c.tool, c.via, c.ok, c.error] for c in ToolCall.objects.order_by("id")]))
"""
VIEWER_TOOLS = sorted(t.name for t in tool_list() if t.role == "viewer")


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        check=False,
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def server_env(tmp_path_factory) -> dict:
    """A migrated SQLite file with vera (viewer, with a token), olga (operator) and the kill switch
    engaged: the environment of a server process on it."""
    var = tmp_path_factory.mktemp("mcp-var")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(var),
        "VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'mcp.sqlite3'}",
        "LOG_FORMAT": "json",
    }
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "shell", "-c", SEED)
    return env


def recorded(env: dict) -> list[list]:
    return json.loads(manage(env, "shell", "-c", CALLS).strip().splitlines()[-1])


def test_over_stdio_the_users_tools_are_listed_and_called_as_that_user(server_env):
    params = StdioServerParameters(
        command=sys.executable,
        args=["manage.py", "mcp_server", "--user", "vera"],
        env=server_env,
        cwd=settings.BASE_DIR,
    )

    async def session():
        async with Client(params) as client:
            listed = await client.list_tools()
            state = await client.call_tool("check_kill_switch", {})
            refused = await client.call_tool("place_order", {"order": {}})
            invalid = await client.call_tool("check_kill_switch", {"strategy_version": "latest"})
            return listed, state, refused, invalid

    listed, state, refused, invalid = anyio.run(session)

    assert sorted(t.name for t in listed.tools) == VIEWER_TOOLS
    schema = next(t for t in listed.tools if t.name == "check_kill_switch").input_schema
    assert schema == next(t for t in tool_list() if t.name == "check_kill_switch").input_schema()
    assert state.is_error is False
    assert state.structured_content == {
        "strategy_version": None,
        "platform": "halted",
        "version": None,
        "effective": "halted",
        "engaged": True,
        "flatten_requested": False,
    }
    assert json.loads(state.content[0].text) == state.structured_content
    assert refused.is_error is True
    assert json.loads(refused.content[0].text) == {
        "error": "forbidden",
        "message": "to call the agent tool place_order needs the role operator",
        "details": {},
    }
    assert json.loads(invalid.content[0].text)["error"] == "invalid_input"
    assert recorded(server_env)[-3:] == [
        ["vera", "check_kill_switch", "mcp", True, ""],
        ["vera", "place_order", "mcp", False, "forbidden"],
        ["vera", "check_kill_switch", "mcp", False, "invalid_input"],
    ]


@pytest.fixture
def http_server(server_env):
    """`mcp_server --user vera --http --port 0`, and the URL it announces."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "mcp_server", "--user", "vera", "--http", "--port", "0"],
        cwd=settings.BASE_DIR,
        env=server_env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True).start()
    try:
        while not (line := lines.get(timeout=60)).startswith("MCP over streamable HTTP at "):
            pass
        yield line.split(" at ", 1)[1].split(" as ", 1)[0]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_over_http_the_users_token_is_required(http_server):
    async def session(token: str | None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx2.AsyncClient(headers=headers) as http:
            if token != "vera-token-0123456789":
                return (await http.post(http_server, json={})).status_code
            async with Client(streamable_http_client(http_server, http_client=http)) as client:
                return await client.call_tool("get_positions", {})

    answered = anyio.run(session, "vera-token-0123456789")

    assert http_server.endswith("/mcp")
    assert (anyio.run(session, None), anyio.run(session, "not-her-token")) == (401, 401)
    assert answered.structured_content == {"count": 0, "positions": []}


@pytest.mark.django_db
def test_the_command_refuses_a_user_it_cannot_act_as(django_user_model, user):
    django_user_model.objects.create_user("nora")

    with pytest.raises(CommandError, match="no active user 'nobody'"):
        call_command("mcp_server", user="nobody")
    with pytest.raises(CommandError, match="nora holds no role"):
        call_command("mcp_server", user="nora")
    with pytest.raises(
        CommandError, match=r"alice has no API token: python manage.py drf_create_token alice"
    ):
        call_command("mcp_server", user="alice", http=True)


@pytest.mark.django_db
def test_over_mcp_calls_are_throttled_per_user_and_agent_as_over_the_api(as_role, settings, monkeypatch):
    from agents import mcp_server

    # In the test's transaction the connection must stay open (the server closes stale ones
    # before each call, as Django does before each request).
    monkeypatch.setattr(mcp_server, "close_old_connections", lambda: None)
    _call = mcp_server._call
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "agent_tools": "1/min",
        },
    }
    vera = as_role("viewer", "vera").user

    first, second = _call(vera, "check_kill_switch", {}), _call(vera, "check_kill_switch", {})
    other_agent = _call(vera, "get_agent_memory", {"agent": "risk"})

    assert (first.is_error, other_agent.is_error) == (False, False)
    assert second.is_error is True
    refused = json.loads(second.content[0].text)
    assert refused["error"] == "throttled"
    assert (
        refused["message"]
        == f"too many calls of this agent's tools: retry in {refused['details']['wait']:.0f} s"
    )
    assert 0 < refused["details"]["wait"] <= 60
