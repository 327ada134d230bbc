"""Fixtures of the agents' tests: a fresh in-process agent memory for each test, and calling a tool
through the API."""

import pytest

from agents.memory import InProcessMemory


@pytest.fixture(autouse=True)
def memory(monkeypatch):
    """Each test starts with an empty agent memory of its own (whichever backend is configured, the
    tools then write here: Redis's own test is test_memory)."""
    fresh = InProcessMemory()
    monkeypatch.setattr("agents.memory.agent_memory", lambda: fresh)
    monkeypatch.setattr("agents.tools.agent_memory", lambda: fresh)
    return fresh


@pytest.fixture
def invoke():
    """invoke(client, name, **arguments): the API's answer to calling tool name."""

    def call(client, name: str, **arguments):
        return client.post(f"/api/v1/agents/tools/{name}/invoke/", {"arguments": arguments}, format="json")

    return call
