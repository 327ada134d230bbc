"""The event bus: Redis pub/sub when REDIS_URL is set, an in-process bus otherwise.

Events are small JSON payloads on named channels ("bars.ingested", "data.stale", ...).
Publishing never blocks on subscribers; a subscriber that raises is logged, not propagated.
"""

import json
import threading
from collections import defaultdict
from collections.abc import Callable
from functools import lru_cache

import redis
import structlog
from django.conf import settings

log = structlog.get_logger(__name__)
Handler = Callable[[str, dict], None]


class InProcessBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._lock = threading.Lock()

    def publish(self, channel: str, payload: dict) -> None:
        with self._lock:
            handlers = list(self._handlers[channel])
        for handler in handlers:
            _deliver(handler, channel, payload)

    def subscribe(self, channel: str, handler: Handler) -> Callable[[], None]:
        with self._lock:
            self._handlers[channel].append(handler)

        def unsubscribe() -> None:
            with self._lock:
                self._handlers[channel].remove(handler)

        return unsubscribe


class RedisBus:
    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url)

    def publish(self, channel: str, payload: dict) -> None:
        self._client.publish(channel, json.dumps(payload))

    def subscribe(self, channel: str, handler: Handler) -> Callable[[], None]:
        """Deliver the channel's messages to handler from a background thread until unsubscribed."""
        pubsub = self._client.pubsub()
        pubsub.subscribe(**{channel: lambda message: _deliver(handler, channel, json.loads(message["data"]))})
        # Wait for Redis to confirm, so that nothing published after this call returns is missed.
        confirmed = pubsub.get_message(timeout=5)
        if not confirmed or confirmed["type"] != "subscribe":
            pubsub.close()
            raise ConnectionError(f"Redis did not confirm the subscription to {channel!r}")
        thread = pubsub.run_in_thread(sleep_time=0.05, daemon=True)

        def unsubscribe() -> None:
            thread.stop()
            thread.join(timeout=2)
            pubsub.close()

        return unsubscribe


def _deliver(handler: Handler, channel: str, payload: dict) -> None:
    try:
        handler(channel, payload)
    except Exception:  # a faulty subscriber must not break the publisher
        log.exception("event handler failed", channel=channel)


@lru_cache(maxsize=1)
def event_bus() -> InProcessBus | RedisBus:
    return RedisBus(settings.REDIS_URL) if settings.REDIS_URL else InProcessBus()
