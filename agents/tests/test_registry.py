"""The registry: the seed's five agents and their tools, each declared in its app's tools.py with
the role it needs, its arguments a pydantic model (its JSON schema, and the validation of a call)."""

import pytest

from agents.registry import AGENTS, tool, tool_get, tool_list
from marketdata.core.errors import InvalidInput, NotFound


def test_every_seed_tool_is_registered_with_its_agent_and_role():
    registered = {t.name: (t.agent, t.role, t.function.__module__) for t in tool_list()}

    assert list(AGENTS) == ["data", "strategy", "risk", "execution", "monitoring"]
    assert registered == {
        "fetch_historical_data": ("data", "operator", "marketdata.tools"),
        "validate_data_quality": ("data", "operator", "marketdata.tools"),
        "check_data_freshness": ("data", "viewer", "marketdata.tools"),
        "compute_features": ("strategy", "operator", "features.tools"),
        "load_model": ("strategy", "viewer", "strategies.tools"),
        "generate_signals": ("strategy", "operator", "strategies.tools"),
        "backtest_strategy": ("strategy", "operator", "backtests.tools"),
        "check_position_size": ("risk", "viewer", "risk.tools"),
        "compute_portfolio_exposure": ("risk", "viewer", "risk.tools"),
        "check_kill_switch": ("risk", "viewer", "risk.tools"),
        "generate_risk_report": ("risk", "viewer", "risk.tools"),
        "place_order": ("execution", "operator", "execution.tools"),
        "check_order_status": ("execution", "viewer", "execution.tools"),
        "get_positions": ("execution", "viewer", "execution.tools"),
        "reconcile_positions": ("execution", "operator", "execution.tools"),
        "collect_metrics": ("monitoring", "viewer", "monitoring.tools"),
        "check_service_health": ("monitoring", "viewer", "monitoring.tools"),
        "send_alert": ("monitoring", "operator", "monitoring.tools"),
        "generate_daily_summary": ("monitoring", "operator", "monitoring.tools"),
        "get_agent_memory": ("monitoring", "viewer", "agents.tools"),
    }
    assert all(t.description for t in tool_list())


def test_the_schema_comes_from_the_signature():
    schema = tool_get(name="fetch_historical_data").input_schema()

    assert schema["required"] == ["symbol", "start_date", "end_date"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["start_date"] == {"format": "date", "title": "Start Date", "type": "string"}
    assert schema["properties"]["limit"] == {
        "default": 100,
        "description": "the newest bars of the range to return",
        "maximum": 5000,
        "minimum": 0,
        "title": "Limit",
        "type": "integer",
    }
    assert schema["$defs"]["Timeframe"]["enum"] == ["1m", "5m", "15m", "1h", "1d"]


def test_arguments_are_validated_by_the_same_model_and_every_problem_is_named():
    fetch = tool_get(name="fetch_historical_data")

    given = fetch.validate({"symbol": " aaa ", "start_date": "2024-01-02", "end_date": "2024-02-01"})
    with pytest.raises(InvalidInput) as refused:
        fetch.validate({"symbol": "", "start_date": "yesterday", "limit": 9000, "speed": "fast"})

    assert (given.symbol, str(given.start_date), given.timeframe, given.limit) == (
        "AAA",
        "2024-01-02",
        "1d",
        100,
    )
    assert refused.value.message == (
        "fetch_historical_data: invalid arguments: symbol: String should have at least 1 character; "
        "start_date: Input should be a valid date or datetime, input is too short; end_date: Field required; "
        "limit: Input should be less than or equal to 5000; speed: unknown field"
    )
    assert [e["field"] for e in refused.value.details["errors"]] == [
        "symbol",
        "start_date",
        "end_date",
        "limit",
        "speed",
    ]
    with pytest.raises(InvalidInput, match="the arguments are an object of named values"):
        fetch.validate(["AAA"])


def test_unknown_tools_agents_and_roles_are_refused():
    with pytest.raises(NotFound, match="no agent tool 'trade_everything'; the tools: backtest_strategy, "):
        tool_get(name="trade_everything")
    with pytest.raises(ValueError, match="unknown agent 'sales'"):
        tool(agent="sales", role="viewer")
    with pytest.raises(ValueError, match="unknown role 'intern'"):
        tool(agent="data", role="intern")
