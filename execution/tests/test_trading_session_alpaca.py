"""A paper session through Alpaca (the real SDK against the local fake): the order goes out, the
fill comes back on the trade stream into the database, and at the next bar the strategy and the
risk manager see the position."""

import queue
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from execution.core.brokers.alpaca import AlpacaBroker
from execution.models import Order, Position, TradingAccount
from execution.tests.fake_alpaca import KEY, SECRET
from execution.trading_services import OmsPortfolio, TradingSession, replay_bars
from marketdata.core.bars import Timeframe
from marketdata.core.providers.synthetic import SyntheticProvider
from strategies.core.config import Sizing, StrategyConfig

pytestmark = pytest.mark.django_db(transaction=True)  # the stream applies fills from its own thread


def test_a_paper_session_through_alpaca_sees_its_fills_at_the_next_bar(fake, promoted, monkeypatch):
    config = StrategyConfig(
        strategy="buy_and_hold", name="alpaca_paper", universe=["AAA"], sizing=Sizing(mode="qty", value=2)
    )
    version = promoted(config)
    bars = SyntheticProvider(seed=7).get_bars(
        "AAA", datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 29, tzinfo=UTC), Timeframe.D1
    )
    history, steps = replay_bars({"AAA": bars}, bars.index[0])
    client = AlpacaBroker(
        KEY, SECRET, paper=True, url_override=fake.url, stream_url=fake.stream_url, timeout=2.0
    )

    session = TradingSession(
        version=version,
        mode="paper",
        broker="alpaca",
        capital=Decimal(10_000),
        history=history,
        client=client,
    )
    applied: queue.Queue = queue.Queue()
    apply = session._applied

    def applied_then_told(update):  # the test waits for the stream's thread: no two threads on SQLite
        apply(update)
        applied.put(update.event)

    monkeypatch.setattr(session, "_applied", applied_then_told)
    try:
        assert fake.listening.is_set()  # the broker returned its stream once Alpaca confirmed it
        session.on_bars(steps[0])  # buy and hold: buys at its first bar
        assert applied.get(timeout=5) == "accepted"
        order = Order.objects.get()
        # 2 x 62.27 is within the default policy's 1.33% of equity for an order without a stop
        assert (order.status, order.qty, order.broker) == ("accepted", Decimal(2), "alpaca")
        fake.fill(order.client_order_id, Decimal(2), Decimal("62.31"))
        assert applied.get(timeout=5) == "fill"
        session.on_bars(steps[1])
    finally:
        session.stop()

    assert isinstance(session.portfolio, OmsPortfolio)
    assert session.portfolio.position("AAA") == 2.0
    assert Position.objects.get().qty == Decimal(2)
    assert TradingAccount.objects.get().cash == Decimal(10_000) - Decimal(2) * Decimal("62.31")
    order.refresh_from_db()
    assert (order.status, order.avg_fill_price) == ("filled", Decimal("62.31"))
    assert Order.objects.count() == 1  # held: no second order
