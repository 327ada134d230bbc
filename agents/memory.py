"""Agent memory: each agent's short-term state (the data agent's last fetch of a symbol, the
execution agent's last order, ...), every entry kept AGENT_MEMORY_TTL_SECONDS after it was written.

In Redis when REDIS_URL is set (one key per entry, with its TTL: every process of the platform
shares it); in this process otherwise, as the embedded default (an entry then lives as long as the
process does, at most its TTL). Values are plain JSON.
"""

import json
import threading
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import redis
from django.conf import settings

PREFIX = "agents:memory"


class InProcessMemory:
    backend = "in-process"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def set(self, agent: str, key: str, value: Any, ttl: int) -> None:
        with self._lock:
            self._entries[(agent, key)] = (json.dumps(value), self._clock() + ttl)

    def entries(self, agent: str) -> dict[str, dict[str, Any]]:
        now = self._clock()
        with self._lock:
            for gone in [k for k, (_, expires) in self._entries.items() if expires <= now]:
                del self._entries[gone]
            kept = [(k, v, e) for (a, k), (v, e) in self._entries.items() if a == agent]
        return {
            key: {"value": json.loads(value), "expires_in": int(expires - now)}
            for key, value, expires in kept
        }


class RedisMemory:
    backend = "redis"

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url)

    def set(self, agent: str, key: str, value: Any, ttl: int) -> None:
        self._client.set(f"{PREFIX}:{agent}:{key}", json.dumps(value), ex=ttl)

    def entries(self, agent: str) -> dict[str, dict[str, Any]]:
        names = sorted(self._client.scan_iter(match=f"{PREFIX}:{agent}:*", count=500))
        if not names:
            return {}
        pipe = self._client.pipeline(transaction=False)
        for name in names:
            pipe.get(name)
            pipe.ttl(name)
        answers = pipe.execute()
        found = {}
        for name, value, ttl in zip(names, answers[::2], answers[1::2], strict=True):
            if value is not None:  # expired between the scan and the read
                key = name.decode().removeprefix(f"{PREFIX}:{agent}:")
                found[key] = {"value": json.loads(value), "expires_in": ttl}
        return found


@cache
def memory_backend(url: str) -> InProcessMemory | RedisMemory:
    return RedisMemory(url) if url else InProcessMemory()


def agent_memory() -> InProcessMemory | RedisMemory:
    """The memory of this platform: Redis when REDIS_URL is set, this process's otherwise."""
    return memory_backend(settings.REDIS_URL)


def remember(agent: str, key: str, value: Any) -> None:
    """Keep value as agent's key for AGENT_MEMORY_TTL_SECONDS."""
    agent_memory().set(agent, key, value, settings.AGENT_MEMORY_TTL_SECONDS)
