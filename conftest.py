"""Test set-up shared by every app: service markers and common fixtures."""

import os
from datetime import UTC, datetime

import pytest
from django.conf import settings

CHROMIUM = "/usr/bin/chromium"  # Debian's; a browser is never downloaded


def pytest_collection_modifyitems(config, items):
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    skips = {
        "postgres": None if on_postgres else "needs PostgreSQL: set DATABASE_URL=postgres://... (CI does)",
        "redis": None if settings.REDIS_URL else "needs Redis: set REDIS_URL=redis://... (CI does)",
        "browser": None
        if os.path.exists(CHROMIUM)
        else "needs chromium: apt-get install -y chromium (CI does)",
    }
    for item in items:
        for marker, reason in skips.items():
            if reason and marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Test logins hash with MD5: the production hasher's rounds cost half a second per test user
    and test nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def role_groups(request):
    """The role groups come from a data migration, and a transactional test's flush empties them for
    the tests after it: every database test gets them again."""
    if request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("_django_db_helper")
    from django.contrib.auth.models import Group

    from quantsite.roles import ROLES

    for name in ROLES:
        Group.objects.get_or_create(name=name)


@pytest.fixture(autouse=True)
def fresh_throttles(monkeypatch):
    """Each test starts with no request counted against the API's rates (they live in the cache,
    which may be Redis and outlive a test)."""
    from django.core.cache.backends.locmem import LocMemCache
    from rest_framework.throttling import SimpleRateThrottle

    counts = LocMemCache("test-throttles", {})
    counts.clear()
    monkeypatch.setattr(SimpleRateThrottle, "cache", counts)


@pytest.fixture
def user(django_user_model):
    """alice, an operator: she reads, runs research and pauses strategies."""
    from django.contrib.auth.models import Group

    from quantsite.roles import OPERATOR

    alice = django_user_model.objects.create_user(username="alice", password="pw-alice-123")
    alice.groups.add(Group.objects.get(name=OPERATOR))
    return alice


@pytest.fixture
def people(django_user_model):
    """A viewer (vera), two operators (olga, otto) and two risk officers (rita, ray)."""
    from django.contrib.auth.models import Group

    from quantsite.roles import OPERATOR, RISK_OFFICER, VIEWER

    roles = {"vera": VIEWER, "olga": OPERATOR, "otto": OPERATOR, "rita": RISK_OFFICER, "ray": RISK_OFFICER}
    people = {}
    for name, role in roles.items():
        people[name] = django_user_model.objects.create_user(username=name, password=f"pw-{name}-123")
        people[name].groups.add(Group.objects.get(name=role))
    return people


@pytest.fixture
def promoted(people):
    """promoted(config, stage): a new version of the strategy config taken up to stage, each
    approval asked by olga and decided by otto, each move between them made."""
    from strategies.lifecycle_services import (
        ADVANCES,
        PROMOTIONS,
        approval_decide,
        promotion_request,
        strategy_version_advance,
        strategy_version_create,
    )

    def promote(config, stage="paper_approved"):
        version = strategy_version_create(config=config, created_by=people["olga"])
        while version.stage != stage:
            if version.stage in PROMOTIONS:
                request = promotion_request(version=version, requested_by=people["olga"])
                approval_decide(approval=request, decided_by=people["otto"], approve=True)
            else:
                strategy_version_advance(version=version, to=ADVANCES[version.stage])
            version.refresh_from_db()
        return version

    return promote


@pytest.fixture
def console_as(people, client):
    """console_as(name): Django's test client logged in as one of the people."""

    def login(name: str):
        client.force_login(people[name])
        return client

    return login


@pytest.fixture
def api(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def anon():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def artifacts(settings, tmp_path):
    """Reports, models and feature files go to a temporary folder, never to var/."""
    settings.ARTIFACT_STORAGE = tmp_path / "artifacts"
    return settings.ARTIFACT_STORAGE


def _ingest_synthetic(symbol: str, start: datetime, end: datetime, timeframe: str = "1d") -> None:
    """Seeded synthetic bars (seed 7) stored through the ingestion service."""
    from marketdata.services import ingestion_run_create, ingestion_run_execute

    run = ingestion_run_create(
        provider="synthetic", symbols=[symbol], timeframe=timeframe, start=start, end=end, params={"seed": 7}
    )
    ingestion_run_execute(run=run)


@pytest.fixture
def aaa():
    """Two years of synthetic daily AAA bars (seed 7), stored through the ingestion service."""
    _ingest_synthetic("AAA", datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, 23, 59, tzinfo=UTC))
    return "AAA"


@pytest.fixture
def as_role(django_user_model):
    """as_role(role): an API client logged in as a new user holding role ("viewer", ...)."""
    from django.contrib.auth.models import Group
    from rest_framework.test import APIClient

    def client(role: str, username: str | None = None):
        person = django_user_model.objects.create_user(username=username or f"the-{role}")
        person.groups.add(Group.objects.get(name=role))
        api = APIClient()
        api.force_authenticate(person)
        api.user = person
        return api

    return client


@pytest.fixture
def book(promoted, aaa):
    """book(positions=2): a paper version on the paper broker (its account, one open position per
    symbol AAA, BBB, ... each bought by a filled order, and a flat one), with AAA's bars stored. The
    version; each call makes another one (its own name)."""
    from decimal import Decimal

    from execution.models import Fill, Order, Position, TradingAccount
    from strategies.core.config import StrategyConfig

    made = []

    def make(positions: int = 2):
        name = f"book{len(made) + 1}"
        version = promoted(StrategyConfig(strategy="momentum", name=name, universe=["AAA"]), "paper")
        TradingAccount.objects.create(
            strategy_version=version, mode="paper", broker="simulated", initial_capital=10_000, cash=9_000
        )
        symbols = ["AAA"] + [f"S{n:03d}" for n in range(1, positions)]
        ts = datetime(2024, 12, 30, tzinfo=UTC)
        for n, symbol in enumerate(symbols, start=1):
            order = Order.objects.create(
                client_order_id=f"{name}-{symbol}",
                strategy_version=version,
                mode="paper",
                broker="simulated",
                symbol=symbol,
                side="buy",
                qty=Decimal(n),
                status="filled",
                filled_qty=Decimal(n),
                avg_fill_price=Decimal(100),
                signal=f"enter {symbol}",
            )
            Fill.objects.create(
                order=order, execution_id=f"x-{name}-{symbol}", qty=n, notional=100 * n, price=100, ts=ts
            )
            Position.objects.create(
                strategy_version=version, mode="paper", symbol=symbol, qty=Decimal(n), avg_price=Decimal(100)
            )
        Position.objects.create(strategy_version=version, mode="paper", symbol="ZZZ", qty=0, avg_price=0)
        made.append(version)
        return version

    return make


@pytest.fixture
def memory(monkeypatch):
    """An empty agent memory of the test's own, in this process: the tools write to it and
    get_agent_memory reads it, whatever backend is configured (the Redis backend has its own test:
    agents/tests/test_memory.py)."""
    from agents.memory import InProcessMemory

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
