"""Fixtures of the monitoring tests: a small known portfolio, a frozen clock for rows stamped on
creation, users by role."""

import contextlib
from datetime import UTC, datetime
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest

from execution.core.brokers.base import BrokerOrder, TradeUpdate
from execution.models import Order
from execution.services import OrderSpec, Progress, account_open, order_create, orders_progress
from marketdata.core.bars import Timeframe, bar_frame
from marketdata.models import Instrument
from marketdata.services import bars_upsert
from strategies.core.config import StrategyConfig
from strategies.core.types import OrderStatus, OrderType, Side
from strategies.lifecycle_services import strategy_version_create

NY = ZoneInfo("America/New_York")


def ny(year, month, day, hour=0, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


@contextlib.contextmanager
def frozen(at: datetime):
    """timezone.now() is `at`: for rows stamped when created (alerts, audit records)."""
    with mock.patch("django.utils.timezone.now", return_value=at):
        yield


def daily_bars(symbol: str, closes: dict[str, float]) -> None:
    """Daily bars of symbol, {"2024-01-04": close, ...} (stamped 00:00 UTC of their session)."""
    instrument, _ = Instrument.objects.get_or_create(symbol=symbol)
    ts = [datetime.fromisoformat(day).replace(tzinfo=UTC) for day in closes]
    close = list(closes.values())
    n = len(ts)
    bars_upsert(
        instrument=instrument,
        timeframe=Timeframe.D1,
        bars=bar_frame(ts, close, [c + 1 for c in close], [c - 1 for c in close], close, [1000] * n),
        source="synthetic",
    )


def fill(
    version, symbol: str, side: Side, qty: int, price: str, at: datetime, commission: str = "1"
) -> Order:
    """An order of version filled at once, through the OMS (its fill moves position and cash)."""
    order = order_create(
        version=version,
        mode="paper",
        broker="simulated",
        spec=OrderSpec(symbol, side, Decimal(qty)),
        signal=f"{symbol} {side} {at.isoformat()}",
    )
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.SUBMITTED)
    report = BrokerOrder(
        client_order_id=order.client_order_id,
        broker_order_id=f"b-{order.pk}",
        symbol=symbol,
        side=side,
        qty=Decimal(qty),
        order_type=OrderType.MARKET,
        status=OrderStatus.FILLED,
        broker_status="filled",
        filled_qty=Decimal(qty),
        avg_fill_price=Decimal(price),
    )
    update = TradeUpdate(
        "fill",
        report,
        at,
        fill_qty=Decimal(qty),
        fill_price=Decimal(price),
        execution_id=f"x-{order.pk}",
        commission=Decimal(commission),
    )
    orders_progress(items=[Progress.of(update)])
    return order


@pytest.fixture
def version(user):
    config = StrategyConfig(strategy="momentum", name="watched", universe=["AAA", "BBB"])
    return strategy_version_create(config=config, created_by=user)


@pytest.fixture
def portfolio(version):
    """10,000 of paper capital, commission 1 a fill:
    Thu 2024-01-04 15:00 New York  buy 10 AAA @ 100   cash 8,999
    Fri 2024-01-05 15:00           buy 20 BBB @ 50    cash 7,998
    Mon 2024-01-08 11:00           sell 10 AAA @ 104  cash 9,037  (a round trip: +40 - 2 = +38)
    Mon 2024-01-08 12:00           buy 10 AAA @ 103   cash 8,006
    Daily closes: AAA 101, 102, 105 and BBB 49, 48 (Jan 5, 8)."""
    account_open(version=version, mode="paper", broker="simulated", capital=Decimal(10_000))
    daily_bars("AAA", {"2024-01-04": 101, "2024-01-05": 102, "2024-01-08": 105})
    daily_bars("BBB", {"2024-01-05": 49, "2024-01-08": 48})
    fill(version, "AAA", Side.BUY, 10, "100", ny(2024, 1, 4, 15))
    fill(version, "BBB", Side.BUY, 20, "50", ny(2024, 1, 5, 15))
    fill(version, "AAA", Side.SELL, 10, "104", ny(2024, 1, 8, 11))
    fill(version, "AAA", Side.BUY, 10, "103", ny(2024, 1, 8, 12))
    return version


def role_user(django_user_model, name: str, role: str | None):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username=name, password=f"pw-{name}-123")
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def client_as(django_user_model):
    """client_as(role): an API client authenticated as a new user holding that role (None: none)."""
    from rest_framework.test import APIClient

    def make(role: str | None):
        client = APIClient()
        client.force_authenticate(role_user(django_user_model, f"{role or 'nobody'}-user", role))
        return client

    return make


@pytest.fixture(autouse=True)
def quiet_channels(settings):
    """No channel is configured unless a test sets one."""
    settings.SLACK_WEBHOOK_URL = ""
    settings.ALERT_WEBHOOK_URL = ""
    settings.ALERT_EMAILS = []
    settings.ALERT_CHANNELS = {
        "info": [],
        "warning": ["slack", "webhook"],
        "critical": ["slack", "webhook", "email"],
    }
    settings.DAILY_SUMMARY_CHANNELS = ["slack", "webhook", "email"]


@pytest.fixture(autouse=True)
def no_real_brokers(settings):
    """No broker keys or gateway: a health check never reaches a real broker from a test."""
    settings.ALPACA_PAPER_API_KEY = settings.ALPACA_PAPER_API_SECRET = ""
    settings.ALPACA_LIVE_API_KEY = settings.ALPACA_LIVE_API_SECRET = ""
    settings.ALPACA_TRADING_URL = None
    settings.IB_HOST = ""
