"""Reconciliation against Alpaca (the real SDK, the local fake): missed fills recovered, orders the
broker never received settled, and a difference or a silent broker halting the strategies (fail
closed), with an alert."""

from decimal import Decimal

import pytest

from execution.core.brokers.alpaca import AlpacaBroker
from execution.core.brokers.base import OrderRequest
from execution.models import Order, Position
from execution.reconciliation_services import reconcile
from execution.services import OrderSpec, account_open, order_create, order_submit
from execution.tests.fake_alpaca import KEY, SECRET
from quantsite.events import event_bus
from risk.core.state import TradingState
from risk.services import trading_state_get
from strategies.core.config import StrategyConfig
from strategies.core.types import Side
from strategies.lifecycle_services import strategy_version_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(fake):
    return AlpacaBroker(
        KEY, SECRET, paper=True, url_override=fake.url, stream_url=fake.stream_url, timeout=2.0
    )


@pytest.fixture
def version(user):
    version = strategy_version_create(
        config=StrategyConfig(strategy="momentum", name="rec", universe=["AAPL"]), created_by=user
    )
    account_open(version=version, mode="paper", broker="alpaca", capital=Decimal(100_000))
    return version


@pytest.fixture
def alerts():
    received = []
    unsubscribe = event_bus().subscribe("risk.alert", lambda channel, payload: received.append(payload))
    yield received
    unsubscribe()


def buy(version, client, signal, qty=10):
    order = order_create(
        version=version,
        mode="paper",
        broker="alpaca",
        spec=OrderSpec("AAPL", Side.BUY, Decimal(qty)),
        signal=signal,
    )
    return order_submit(order=order, client=client)


def test_a_fill_the_stream_missed_is_recovered_and_the_books_agree(version, client, fake, alerts):
    order = buy(version, client, "a")
    fake.fill(order.client_order_id, Decimal(10), Decimal("187.25"))  # nobody listens to the stream

    report = reconcile(broker="alpaca", mode="paper", client=client)

    order.refresh_from_db()
    assert report.clean, report
    assert report.orders_settled == [order.client_order_id]
    assert (order.status, order.filled_qty, order.avg_fill_price) == (
        "filled",
        Decimal(10),
        Decimal("187.25"),
    )
    assert Position.objects.get().qty == Decimal(10)
    assert order.fills.get().execution_id.endswith("@10")  # derived from the broker's cumulative figures
    assert trading_state_get(version=version) == TradingState.ACTIVE
    assert alerts == []


def test_an_order_the_broker_never_received_is_cancelled_here(version, client, fake):
    order = order_create(
        version=version,
        mode="paper",
        broker="alpaca",
        spec=OrderSpec("AAPL", Side.BUY, Decimal(1)),
        signal="lost",
    )
    Order.objects.filter(pk=order.pk).update(status="submitted")  # sent; the answer never came

    report = reconcile(broker="alpaca", mode="paper", client=client)

    order.refresh_from_db()
    assert report.clean
    assert (order.status, order.status_reason) == ("canceled", "reconciliation: the broker has no such order")


def test_a_position_the_books_do_not_explain_halts_the_strategies_and_alerts(version, client, fake, alerts):
    placed = client.place_order(
        OrderRequest("manual-1", "AAPL", Side.BUY, Decimal(5))
    )  # by hand, not the OMS
    fake.fill(placed.client_order_id, Decimal(5), Decimal(190))

    report = reconcile(broker="alpaca", mode="paper", client=client)

    assert report.mismatches == ["AAPL: local 0, broker 5"]
    assert report.halted == [version.pk]
    assert trading_state_get(version=version) == TradingState.HALTED
    assert alerts[0]["reason"] == "positions differ from the broker's: AAPL: local 0, broker 5"


def test_a_broker_that_cannot_answer_is_never_read_as_flat(version, client, fake, alerts):
    fake.fail_next(500)

    report = reconcile(broker="alpaca", mode="paper", client=client)

    assert report.failure.startswith("the broker could not be asked: ")
    assert trading_state_get(version=version) == TradingState.HALTED
    assert alerts[0]["kind"] == "reconciliation"
