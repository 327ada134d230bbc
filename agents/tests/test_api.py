"""The agents API: the tools by agent, calling one (validated, as the caller, by role), the errors
in the API's shape, the record of every call, and the throttle per user and agent."""

import pytest
from django.contrib.auth.models import Group

from agents.models import ToolCall
from agents.registry import tool_get
from risk.services import kill_switch_engage

pytestmark = pytest.mark.django_db

NO_STATE = {
    "strategy_version": None,
    "platform": "active",
    "version": None,
    "effective": "active",
    "engaged": False,
    "flatten_requested": False,
}


def test_the_tools_are_listed_by_agent_with_their_role_and_schema(as_role):
    viewer = as_role("viewer")

    agents = viewer.get("/api/v1/agents/tools/").json()["agents"]

    assert [(a["name"], len(a["tools"])) for a in agents] == [
        ("data", 3),
        ("strategy", 4),
        ("risk", 4),
        ("execution", 4),
        ("monitoring", 5),
    ]
    execution = {t["name"]: t for t in agents[3]["tools"]}
    assert [(name, t["role"], t["allowed"]) for name, t in execution.items()] == [
        ("check_order_status", "viewer", True),
        ("get_positions", "viewer", True),
        ("place_order", "operator", False),
        ("reconcile_positions", "operator", False),
    ]
    assert execution["place_order"]["input_schema"] == tool_get(name="place_order").input_schema()
    assert execution["place_order"]["description"].startswith("Place an order for a strategy version")


def test_a_call_answers_the_tools_result_and_is_recorded(as_role, invoke, people):
    viewer = as_role("viewer", "vic")
    kill_switch_engage(reason="drill", by=people["olga"])

    answer = invoke(viewer, "check_kill_switch", equity_curve=[100, 120, 107])

    assert answer.status_code == 200
    body = answer.json()
    assert (body["tool"], body["agent"]) == ("check_kill_switch", "risk")
    assert body["result"] == {
        **NO_STATE,
        "platform": "halted",
        "effective": "halted",
        "engaged": True,
        "max_drawdown_pct": 8.88888888888889,  # level 6 of 5-12%
        "drawdown_tripped": True,  # 120 -> 107 is 10.8% down, beyond it
    }
    call = ToolCall.objects.get()
    assert call.pk == body["call"]
    assert (call.user.username, call.agent, call.tool, call.via, call.ok, call.error) == (
        "vic",
        "risk",
        "check_kill_switch",
        "api",
        True,
        "",
    )
    assert call.arguments == {"equity_curve": [100, 120, 107]}
    assert call.result.startswith('{"strategy_version": null, "platform": "halted"')
    assert call.duration_ms == body["duration_ms"]


@pytest.mark.parametrize(
    ("role", "name", "arguments", "status", "error", "message"),
    [
        (
            "viewer",
            "check_kill_switch",
            {"equity_curve": "up"},
            400,
            "invalid_input",
            "check_kill_switch: invalid arguments: equity_curve: Input should be a valid list",
        ),
        (
            "viewer",
            "check_kill_switch",
            {"strategy_version": 999},
            404,
            "not_found",
            "no strategy version #999",
        ),
        (
            "viewer",
            "place_order",
            {},
            403,
            "forbidden",
            "to call the agent tool place_order needs the role operator",
        ),
        ("viewer", "sell_everything", {}, 404, "not_found", None),
        ("operator", "reconcile_positions", {"broker": "alpaca"}, 503, "provider_not_configured", None),
    ],
)
def test_errors_answer_in_the_apis_shape_and_are_recorded(
    as_role, invoke, settings, role, name, arguments, status, error, message
):
    settings.ALPACA_PAPER_API_KEY = settings.ALPACA_PAPER_API_SECRET = ""  # Alpaca is not configured
    client = as_role(role)

    answer = invoke(client, name, **arguments)

    assert (answer.status_code, answer.json()["error"]) == (status, error)
    if message is not None:
        assert answer.json()["message"] == message
    call = ToolCall.objects.get()
    assert (call.tool, call.ok, call.error, call.message) == (name, False, error, answer.json()["message"])


def test_arguments_must_be_an_object_and_a_caller_needs_a_role(invoke, as_role, anon, django_user_model):
    from rest_framework.test import APIClient

    viewer = as_role("viewer")
    nobody = APIClient()
    nobody.force_authenticate(django_user_model.objects.create_user("nora"))

    listed = viewer.post("/api/v1/agents/tools/check_kill_switch/invoke/", {"arguments": [1]}, format="json")

    assert (listed.status_code, listed.json()["message"]) == (
        400,
        'arguments: Expected a dictionary of items but got type "list".',
    )
    assert invoke(nobody, "check_kill_switch").status_code == 403
    assert invoke(anon, "check_kill_switch").status_code == 401
    assert ToolCall.objects.count() == 0  # refused before any tool was looked up


def test_the_calls_are_listed_newest_first_and_filtered(as_role, invoke):
    viewer = as_role("viewer", "vic")
    invoke(viewer, "check_kill_switch")
    invoke(viewer, "get_agent_memory", agent="data")
    invoke(viewer, "get_agent_memory", agent="nobody")

    listed = viewer.get("/api/v1/agents/calls/").json()
    failed = viewer.get("/api/v1/agents/calls/?ok=false&agent=monitoring").json()

    assert [(c["tool"], c["ok"]) for c in listed["results"]] == [
        ("get_agent_memory", False),
        ("get_agent_memory", True),
        ("check_kill_switch", True),
    ]
    assert [(c["user"], c["arguments"], c["error"]) for c in failed["results"]] == [
        ("vic", {"agent": "nobody"}, "invalid_input")
    ]
    one = viewer.get(f"/api/v1/agents/calls/{listed['results'][2]['id']}/").json()
    assert (one["tool"], one["via"]) == ("check_kill_switch", "api")


def test_calls_are_throttled_per_user_and_agent(as_role, invoke, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "agent_tools": "2/min",
        },
    }
    viewer, other = as_role("viewer", "vic"), as_role("viewer", "val")

    risk = [invoke(viewer, "check_kill_switch").status_code for _ in range(3)]
    refused = invoke(viewer, "compute_portfolio_exposure")  # the same agent
    monitoring = invoke(viewer, "get_agent_memory", agent="risk")  # another agent
    someone_else = invoke(other, "check_kill_switch")

    assert risk == [200, 200, 429]
    assert (refused.status_code, refused.json()["error"]) == (429, "throttled")
    assert 0 < int(refused["Retry-After"]) <= 60
    assert (monitoring.status_code, someone_else.status_code) == (200, 200)
    assert ToolCall.objects.count() == 4  # a throttled call never reaches a tool


def test_the_admin_shows_the_calls_read_only(invoke, as_role, client, django_user_model):
    invoke(as_role("viewer"), "check_kill_switch")
    client.force_login(django_user_model.objects.create_superuser("root"))

    listed = client.get("/admin/agents/toolcall/")
    call = ToolCall.objects.get()

    assert listed.status_code == 200
    assert b"check_kill_switch" in listed.content
    assert client.get("/admin/agents/toolcall/add/").status_code == 403
    assert client.post(f"/admin/agents/toolcall/{call.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ToolCall.objects.filter(pk=call.pk).exists()


def test_live_rights_are_a_permission_an_admin_grants(django_user_model):
    from django.contrib.auth.models import Permission

    olga = django_user_model.objects.create_user("olga")
    olga.groups.add(Group.objects.get(name="operator"))
    olga.user_permissions.add(Permission.objects.get(codename="trade_live", content_type__app_label="agents"))
    olga = django_user_model.objects.get(pk=olga.pk)  # permissions are cached per instance

    assert olga.has_perm("agents.trade_live")


def test_the_calls_list_reads_as_many_queries_for_one_call_as_for_many(as_role, invoke):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    viewer = as_role("viewer")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert viewer.get("/api/v1/agents/calls/").status_code == 200
        return len(captured)

    invoke(viewer, "check_kill_switch")
    one = queries()
    for n in range(4):
        invoke(as_role("viewer", f"v{n}"), "get_agent_memory", agent="data")

    assert queries() == one
