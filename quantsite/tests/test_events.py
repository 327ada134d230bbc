"""The event bus: in-process by default, Redis pub/sub when REDIS_URL is set."""

import queue

import pytest
from django.conf import settings

from quantsite.events import InProcessBus, RedisBus


def test_in_process_bus_delivers_to_subscribers_until_they_leave():
    bus = InProcessBus()
    got = []
    leave = bus.subscribe("bars.ingested", lambda channel, payload: got.append((channel, payload)))

    bus.publish("bars.ingested", {"run": 1})
    leave()
    bus.publish("bars.ingested", {"run": 2})

    assert got == [("bars.ingested", {"run": 1})]


def test_a_failing_subscriber_does_not_break_the_publisher():
    bus = InProcessBus()
    got = []
    bus.subscribe("x", lambda c, p: 1 / 0)
    bus.subscribe("x", lambda c, p: got.append(p))

    bus.publish("x", {"n": 1})

    assert got == [{"n": 1}]


@pytest.mark.redis
def test_redis_bus_delivers_across_connections():
    publisher, subscriber = RedisBus(settings.REDIS_URL), RedisBus(settings.REDIS_URL)
    received: queue.Queue = queue.Queue()
    leave = subscriber.subscribe("test.events", lambda channel, payload: received.put((channel, payload)))
    try:
        publisher.publish("test.events", {"run": 7, "symbols": ["AAA"]})

        assert received.get(timeout=5) == ("test.events", {"run": 7, "symbols": ["AAA"]})
    finally:
        leave()
