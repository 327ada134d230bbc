"""The cache of polled reads (quantsite.read_cache): one computation per period for each credential,
never an answer kept for another credential, stale answers served while one request computes them
again, and a write through the web tier renewing them."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from execution.models import Position
from quantsite import read_cache

pytestmark = pytest.mark.django_db

PERIOD = 5.0


@pytest.fixture
def now(settings, monkeypatch):
    """The cache on (PERIOD seconds), its clock at 1000 s; now.at(t) moves it."""
    settings.API_READ_CACHE_SECONDS = PERIOD

    class Clock:
        t = 1000.0

        def at(self, t: float) -> None:
            self.t = t

    clock = Clock()
    monkeypatch.setattr(read_cache, "clock", lambda: clock.t)
    return clock


@pytest.fixture
def token_client(django_user_model):
    """token_client(name, role=None): an API client sending its own token, as a dashboard does."""

    def make(name: str, role: str | None = None) -> APIClient:
        person = django_user_model.objects.create_user(username=name)
        if role:
            person.groups.add(Group.objects.get(name=role))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=person).key}")
        return client

    return make


def test_a_polled_read_is_computed_once_per_period_for_each_credential(
    now, token_client, book, django_assert_num_queries
):
    book(positions=2)
    ann, bob = token_client("ann", "viewer"), token_client("bob", "viewer")

    first = ann.get("/api/v1/positions/")
    now.at(1003)
    with django_assert_num_queries(0):
        kept = ann.get("/api/v1/positions/")
    other = bob.get("/api/v1/positions/?include_flat=true")  # another credential, another query

    assert (first.status_code, kept.status_code) == (200, 200)
    assert kept.content == first.content
    assert (kept["Content-Type"], kept["Age"]) == (first["Content-Type"], "3")
    assert "Age" not in first
    assert "Age" not in other
    assert (first.json()["count"], other.json()["count"]) == (2, 3)


def test_an_answer_kept_for_one_credential_is_never_served_to_another_or_to_none(
    now, token_client, anon, book
):
    book(positions=1)
    viewer, nobody = token_client("ann", "viewer"), token_client("norole")

    assert viewer.get("/api/v1/metrics/summary/").status_code == 200
    assert viewer.get("/api/v1/positions/").status_code == 200

    assert nobody.get("/api/v1/positions/").status_code == 403  # no role: refused, not served
    assert nobody.get("/api/v1/metrics/summary/").status_code == 403
    assert anon.get("/api/v1/positions/").status_code == 401
    bogus = APIClient()
    bogus.credentials(HTTP_AUTHORIZATION="Token 0000")
    assert bogus.get("/api/v1/positions/").status_code == 401


def test_an_expired_answer_is_served_while_one_request_computes_it_again(
    now, token_client, book, monkeypatch
):
    book(positions=1)
    ann = token_client("ann", "viewer")
    assert ann.get("/api/v1/positions/").json()["results"][0]["qty"] == "1.000000000"
    Position.objects.filter(symbol="AAA").update(qty=Decimal(7))  # a fill a worker stored

    now.at(1002)
    within = ann.get("/api/v1/positions/")
    now.at(1000 + PERIOD + 1)
    with monkeypatch.context() as refreshing:  # another request holds the refresh lock
        refreshing.setattr(read_cache.cache, "add", lambda *args, **kwargs: False)
        stale = ann.get("/api/v1/positions/")
    fresh = ann.get("/api/v1/positions/")

    assert within.json()["results"][0]["qty"] == "1.000000000"
    assert (stale.json()["results"][0]["qty"], stale["Age"]) == ("1.000000000", str(int(PERIOD) + 1))
    assert fresh.json()["results"][0]["qty"] == "7.000000000"
    assert "Age" not in fresh


def test_a_write_through_the_web_tier_renews_the_reads(now, token_client, book):
    version = book(positions=1)
    ann, olga = token_client("ann", "viewer"), token_client("olga-2", "operator")
    position = Position.objects.get(strategy_version=version, symbol="AAA")
    assert ann.get("/api/v1/positions/").json()["results"][0]["close_requested_at"] is None

    closed = olga.post(f"/api/v1/positions/{position.pk}/close/")
    refused = olga.post(f"/api/v1/positions/{position.pk}/close/")  # already closing: no new generation
    after = ann.get("/api/v1/positions/")

    assert (closed.status_code, refused.status_code) == (200, 409)
    assert after.json()["results"][0]["close_requested_at"] is not None
    assert "Age" not in after


def test_with_a_period_of_zero_every_read_is_computed(
    settings, token_client, book, django_assert_num_queries
):
    settings.API_READ_CACHE_SECONDS = 0
    book(positions=1)
    ann = token_client("ann", "viewer")
    ann.get("/api/v1/positions/")

    with django_assert_num_queries(4):  # token, roles, count, page
        again = ann.get("/api/v1/positions/")

    assert again.status_code == 200
    assert "Age" not in again
