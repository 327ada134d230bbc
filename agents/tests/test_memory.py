"""Agent memory: each agent's entries with their TTL, in this process (the embedded default) or in
Redis when REDIS_URL is set."""

import uuid

import pytest
import redis

from agents.memory import PREFIX, InProcessMemory, RedisMemory, memory_backend


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_in_process_entries_expire_after_their_ttl_and_agents_keep_their_own():
    clock = Clock()
    memory = InProcessMemory(clock=clock)
    memory.set("data", "last_fetch:AAA", {"run": 7}, ttl=10)
    clock.now += 4
    memory.set("data", "last_fetch:BBB", {"run": 8}, ttl=10)
    memory.set("risk", "last_check", "halted", ttl=60)

    at_four = memory.entries("data")
    clock.now += 6  # AAA's ten seconds are over
    at_ten = memory.entries("data")

    assert at_four == {
        "last_fetch:AAA": {"value": {"run": 7}, "expires_in": 6},
        "last_fetch:BBB": {"value": {"run": 8}, "expires_in": 10},
    }
    assert at_ten == {"last_fetch:BBB": {"value": {"run": 8}, "expires_in": 4}}
    assert memory.entries("risk") == {"last_check": {"value": "halted", "expires_in": 54}}
    assert memory.entries("execution") == {}


def test_without_redis_the_memory_is_this_processes():
    assert isinstance(memory_backend(""), InProcessMemory)
    assert memory_backend("") is memory_backend("")  # one per process


@pytest.mark.redis
def test_in_redis_each_entry_is_a_key_with_its_ttl(settings):
    agent = f"test-{uuid.uuid4().hex}"  # no other test's entries
    client = redis.Redis.from_url(settings.REDIS_URL)
    memory = memory_backend(settings.REDIS_URL)
    try:
        memory.set(agent, "last_fetch:AAA", {"run": 7, "at": "2024-03-28T21:00:00+00:00"}, ttl=300)
        memory.set(agent, "last_order", 42, ttl=60)
        other = RedisMemory(settings.REDIS_URL)  # another process sees the same

        entries = other.entries(agent)

        assert isinstance(memory, RedisMemory)
        assert {key: e["value"] for key, e in entries.items()} == {
            "last_fetch:AAA": {"run": 7, "at": "2024-03-28T21:00:00+00:00"},
            "last_order": 42,
        }
        assert 0 < entries["last_fetch:AAA"]["expires_in"] <= 300
        assert 0 < entries["last_order"]["expires_in"] <= 60
        assert 0 < client.ttl(f"{PREFIX}:{agent}:last_order") <= 60
        assert other.entries(f"{agent}-other") == {}
    finally:
        client.delete(*client.scan_iter(match=f"{PREFIX}:{agent}:*"))
