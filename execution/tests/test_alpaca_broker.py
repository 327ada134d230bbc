"""AlpacaBroker through the real alpaca-py against a local fake of Alpaca's trading API."""

import queue
import socket
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, PositionSide
from alpaca.trading.enums import OrderStatus as AlpacaOrderStatus
from alpaca.trading.models import TradeUpdate as AlpacaTradeUpdate

from execution.core.brokers import alpaca
from execution.core.brokers.alpaca import AlpacaBroker, order_status
from execution.core.brokers.base import (
    BrokerAccount,
    BrokerError,
    BrokerOrder,
    BrokerPosition,
    BrokerRateLimited,
    BrokerUnavailable,
    OrderRejected,
    OrderRequest,
)
from execution.tests.fake_alpaca import KEY, SECRET, START, make_broker
from marketdata.core.errors import NotFound, ProviderNotConfigured
from strategies.core.types import OrderStatus, OrderType, Side, TimeInForce

NOW = 1_714_656_600.0  # the broker's clock where a test reads rate-limit reset times


@pytest.fixture
def broker(fake):
    return make_broker(fake, clock=lambda: NOW)


def buy(cid="s-1", symbol="AAPL", qty="10", **kwargs) -> OrderRequest:
    return OrderRequest(cid, symbol, Side.BUY, Decimal(qty), **kwargs)


def sell(cid="s-2", symbol="MSFT", qty="5", **kwargs) -> OrderRequest:
    return OrderRequest(cid, symbol, Side.SELL, Decimal(qty), **kwargs)


def second(n: int):
    return START + timedelta(seconds=n)


# --- placing orders -----------------------------------------------------------------------------------


def test_market_and_limit_orders_go_out_as_exact_strings_and_read_back_as_decimals(fake, broker):
    # when
    market = broker.place_order(buy("s-1", qty="0.123456789"))
    limit = broker.place_order(
        sell("s-2", qty="3", order_type=OrderType.LIMIT, limit_price=Decimal("412.37"), tif=TimeInForce.GTC)
    )

    # then: the wire carried strings, never floats
    assert fake.posted == [
        {"symbol": "AAPL", "qty": "0.123456789", "side": "buy", "type": "market", "time_in_force": "day",
         "client_order_id": "s-1"},
        {"symbol": "MSFT", "qty": "3", "side": "sell", "type": "limit", "time_in_force": "gtc",
         "client_order_id": "s-2", "limit_price": "412.37"},
    ]  # fmt: skip
    assert market == BrokerOrder(
        client_order_id="s-1",
        broker_order_id=fake.order("s-1")["id"],
        symbol="AAPL",
        side=Side.BUY,
        qty=Decimal("0.123456789"),
        order_type=OrderType.MARKET,
        status=OrderStatus.ACCEPTED,
        broker_status="accepted",
        tif=TimeInForce.DAY,
        submitted_at=second(1),
        updated_at=second(1),
    )
    assert (limit.qty, limit.limit_price, limit.stop_price, limit.tif, limit.side) == (
        Decimal(3),
        Decimal("412.37"),
        None,
        TimeInForce.GTC,
        Side.SELL,
    )
    assert broker.get_order("s-1") == market
    assert broker.get_order("s-2") == limit


def test_stop_and_stop_limit_orders_carry_their_prices_exactly(fake, broker):
    # when
    stop = broker.place_order(sell("s-3", order_type=OrderType.STOP, stop_price=Decimal("0.8765")))
    stop_limit = broker.place_order(
        buy(
            "s-4",
            order_type=OrderType.STOP_LIMIT,
            stop_price=Decimal("101.25"),
            limit_price=Decimal("1E+2"),
        )
    )

    # then
    assert [(b.get("stop_price"), b.get("limit_price"), b["type"]) for b in fake.posted] == [
        ("0.8765", None, "stop"),
        ("101.25", "100", "stop_limit"),
    ]
    assert (stop.order_type, stop.stop_price, stop.limit_price) == (OrderType.STOP, Decimal("0.8765"), None)
    assert (stop_limit.order_type, stop_limit.stop_price, stop_limit.limit_price) == (
        OrderType.STOP_LIMIT,
        Decimal("101.25"),
        Decimal(100),
    )


def test_a_reused_client_order_id_is_rejected_and_no_second_order_exists(fake, broker):
    # given
    first = broker.place_order(buy("dup-1"))

    # when
    with pytest.raises(OrderRejected) as caught:
        broker.place_order(buy("dup-1", qty="20"))

    # then
    assert caught.value.message == "Alpaca rejected order dup-1: client_order_id must be unique"
    assert caught.value.details == {"status": 422, "code": 40010001}
    assert fake.count("POST", "/v2/orders") == 2
    assert [o["qty"] for o in fake.orders.values()] == ["10"]
    assert broker.get_order("dup-1") == first


@pytest.mark.parametrize(
    ("request_", "message", "status"),
    [
        (
            buy(qty="1000", order_type=OrderType.LIMIT, limit_price=Decimal("187.15")),
            "Alpaca rejected order s-1: insufficient buying power",
            403,
        ),
        (
            buy(order_type=OrderType.LIMIT, limit_price=Decimal("187.155")),
            "Alpaca rejected order s-1: invalid limit_price 187.155. sub-penny increment does not fulfill "
            "minimum pricing criteria",
            422,
        ),
    ],
)
def test_alpacas_refusals_are_order_rejected_with_its_message(fake, broker, request_, message, status):
    with pytest.raises(OrderRejected) as caught:
        broker.place_order(request_)

    assert (caught.value.message, caught.value.details["status"]) == (message, status)
    assert fake.orders == {}


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_on_post_is_unavailable_and_never_retried(fake, broker, status):
    # given
    fake.fail_next(status)

    # when
    with pytest.raises(BrokerUnavailable) as caught:
        broker.place_order(buy())

    # then: one POST (alpaca-py by itself retries a 504 three times, 3 s apart)
    assert caught.value.message == (
        f"Alpaca failed on order s-1: HTTP {status}: internal server error occurred; the outcome is unknown"
    )
    assert fake.count("POST", "/v2/orders") == 1
    assert fake.requests == [("POST", "/v2/orders")]


def test_a_post_that_times_out_is_unavailable_once_and_the_order_can_be_found_after(fake):
    # given: the fake places the order but answers only after the client gave up
    broker = make_broker(fake, timeout=0.3)
    fake.hang_next()

    # when
    with pytest.raises(BrokerUnavailable) as caught:
        broker.place_order(buy("slow-1"))

    # then
    assert caught.value.message == (
        "Alpaca did not answer about order slow-1 within 0.3 s; the outcome is unknown"
    )
    assert fake.count("POST", "/v2/orders") == 1
    found = broker.get_order("slow-1")
    assert (found.client_order_id, found.status) == ("slow-1", OrderStatus.ACCEPTED)
    assert fake.count("POST", "/v2/orders") == 1


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"retry_after": "7"}, 7.0),
        ({"reset": int(NOW) + 12}, 12.0),
        ({"retry_after": "Thu, 02 May 2024 13:30:05 GMT", "reset": int(NOW) + 60}, 5.0),
        ({}, None),
    ],
)
def test_429_on_post_is_rate_limited_with_retry_after_and_not_retried(fake, broker, headers, retry_after):
    # given
    fake.rate_limit_next(**headers)

    # when
    with pytest.raises(BrokerRateLimited) as caught:
        broker.place_order(buy())

    # then
    assert caught.value.retry_after == retry_after
    assert caught.value.message.startswith("Alpaca rate limit on order s-1: rate limit exceeded; try again ")
    assert fake.count("POST", "/v2/orders") == 1
    assert fake.orders == {}


def test_an_unreachable_alpaca_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    broker = AlpacaBroker(KEY, SECRET, url_override=f"http://127.0.0.1:{port}", timeout=1.0)

    with pytest.raises(BrokerUnavailable, match=r"^Alpaca request about order s-1 failed: ConnectionError;"):
        broker.place_order(buy())


def test_wrong_keys_are_refused_everywhere(fake):
    broker = AlpacaBroker("other-key", "other-secret", url_override=fake.url, timeout=2.0)

    with pytest.raises(OrderRejected, match=r"^Alpaca rejected order s-1: request is not authorized$"):
        broker.place_order(buy())
    with pytest.raises(BrokerError, match=r"^Alpaca refused positions: HTTP 401: request is not authorized$"):
        broker.get_positions()


@pytest.mark.parametrize(("key", "secret"), [("", "s"), ("k", ""), (None, None)])
def test_missing_keys_raise_provider_not_configured(key, secret):
    with pytest.raises(ProviderNotConfigured, match=r"^Alpaca keys are not set: set ALPACA_API_KEY"):
        AlpacaBroker(key, secret)


@pytest.mark.parametrize(
    ("paper", "url"), [(True, "https://paper-api.alpaca.markets"), (False, "https://api.alpaca.markets")]
)
def test_paper_picks_the_paper_endpoint_unless_false(paper, url):
    broker = AlpacaBroker(KEY, SECRET, paper=paper)

    assert (broker.paper, broker._client._base_url) == (paper, url)


# --- reading orders -------------------------------------------------------------------------------


def test_get_order_of_an_unknown_id_is_none(fake, broker):
    assert broker.get_order("never-sent") is None
    assert fake.requests == [("GET", "/v2/orders:by_client_order_id")]


def test_get_order_that_fails_raises_rather_than_reading_as_none(fake, broker):
    fake.fail_next(500)

    with pytest.raises(BrokerUnavailable):
        broker.get_order("s-1")


def test_cancel_moves_the_order_to_canceled(fake, broker):
    # given
    placed = broker.place_order(buy("c-1", order_type=OrderType.LIMIT, limit_price=Decimal("99.5")))

    # when
    broker.cancel_order("c-1")

    # then
    order = broker.get_order("c-1")
    assert (order.status, order.broker_status, order.broker_order_id) == (
        OrderStatus.CANCELED,
        "canceled",
        placed.broker_order_id,
    )
    assert fake.requests[-3:-1] == [
        ("GET", "/v2/orders:by_client_order_id"),
        ("DELETE", f"/v2/orders/{placed.broker_order_id}"),
    ]


def test_cancel_of_an_unknown_order_is_not_found(fake, broker):
    with pytest.raises(NotFound, match=r"^Alpaca has no order ghost-1: order not found$"):
        broker.cancel_order("ghost-1")


def test_cancel_of_a_filled_order_does_nothing(fake, broker):
    # given
    broker.place_order(buy("f-1"))
    fake.fill("f-1", Decimal(10), Decimal("187.15"))

    # when
    broker.cancel_order("f-1")

    # then: no cancel was sent, and the order stays filled
    assert fake.requests[-1] == ("GET", "/v2/orders:by_client_order_id")
    assert broker.get_order("f-1").status == OrderStatus.FILLED


def test_cancel_that_crosses_the_last_fill_does_nothing(fake, broker):
    # given: the lookup still sees the order working, Alpaca has filled it by the time the cancel comes
    placed = broker.place_order(buy("f-2"))
    fake.respond_next(200, dict(fake.order("f-2")))
    fake.fill("f-2", Decimal(10), Decimal("187.15"))

    # when
    broker.cancel_order("f-2")

    # then: Alpaca answered 422 (not cancelable) and the order is filled
    assert fake.requests[-2:] == [
        ("GET", "/v2/orders:by_client_order_id"),
        ("DELETE", f"/v2/orders/{placed.broker_order_id}"),
    ]
    assert broker.get_order("f-2").status == OrderStatus.FILLED


def test_cancel_that_alpaca_refuses_otherwise_raises(fake, broker):
    broker.place_order(buy("f-3"))
    fake.respond_next(200, dict(fake.order("f-3")))
    fake.respond_next(403, {"code": 40310000, "message": "forbidden"})

    with pytest.raises(BrokerError) as caught:
        broker.cancel_order("f-3")

    assert caught.value.message == "Alpaca refused order f-3: HTTP 403: forbidden"


def test_open_orders_are_the_working_ones_with_their_fills(fake, broker):
    # given
    for cid in ("o-1", "o-2", "o-3", "o-4"):
        broker.place_order(buy(cid, qty="10"))
    fake.fill("o-1", Decimal(10), Decimal(100))
    fake.fill("o-2", Decimal("2.5"), Decimal("100.10"))
    fake.fill("o-2", Decimal("2.5"), Decimal("100.20"))
    broker.cancel_order("o-3")

    # when
    orders = broker.get_open_orders()

    # then: newest first, as Alpaca lists them
    assert [(o.client_order_id, o.status, o.filled_qty, o.avg_fill_price) for o in orders] == [
        ("o-4", OrderStatus.ACCEPTED, Decimal(0), None),
        ("o-2", OrderStatus.PARTIALLY_FILLED, Decimal(5), Decimal("100.15")),
    ]


def test_a_full_page_of_open_orders_raises_rather_than_hiding_some(fake, broker, monkeypatch):
    monkeypatch.setattr(alpaca, "OPEN_ORDERS_PAGE", 2)
    broker.place_order(buy("p-1"))
    broker.place_order(buy("p-2"))

    with pytest.raises(BrokerUnavailable, match="full page of 2 open orders"):
        broker.get_open_orders()


# --- status mapping -------------------------------------------------------------------------------

STATUSES = [
    ("pending_new", "0", OrderStatus.SUBMITTED),
    ("pending_review", "0", OrderStatus.SUBMITTED),
    ("new", "0", OrderStatus.ACCEPTED),
    ("accepted", "0", OrderStatus.ACCEPTED),
    ("pending_cancel", "0", OrderStatus.ACCEPTED),
    ("pending_replace", "0", OrderStatus.ACCEPTED),
    ("accepted_for_bidding", "0", OrderStatus.ACCEPTED),
    ("calculated", "0", OrderStatus.ACCEPTED),
    ("stopped", "0", OrderStatus.ACCEPTED),
    ("suspended", "0", OrderStatus.ACCEPTED),
    ("held", "0", OrderStatus.ACCEPTED),
    ("done_for_day", "0", OrderStatus.ACCEPTED),
    ("new", "4", OrderStatus.PARTIALLY_FILLED),
    ("accepted", "4", OrderStatus.PARTIALLY_FILLED),
    ("pending_cancel", "4", OrderStatus.PARTIALLY_FILLED),
    ("pending_replace", "4", OrderStatus.PARTIALLY_FILLED),
    ("calculated", "4", OrderStatus.PARTIALLY_FILLED),
    ("stopped", "4", OrderStatus.PARTIALLY_FILLED),
    ("suspended", "4", OrderStatus.PARTIALLY_FILLED),
    ("held", "4", OrderStatus.PARTIALLY_FILLED),
    ("done_for_day", "4", OrderStatus.PARTIALLY_FILLED),
    ("partially_filled", "4", OrderStatus.PARTIALLY_FILLED),
    ("filled", "10", OrderStatus.FILLED),
    ("canceled", "0", OrderStatus.CANCELED),
    ("canceled", "4", OrderStatus.CANCELED),
    ("replaced", "0", OrderStatus.CANCELED),
    ("expired", "4", OrderStatus.EXPIRED),
    ("rejected", "0", OrderStatus.REJECTED),
]


@pytest.mark.parametrize(("alpaca_status", "filled_qty", "expected"), STATUSES)
def test_each_alpaca_status_reads_as_the_platforms(fake, broker, alpaca_status, filled_qty, expected):
    # given
    broker.place_order(buy("m-1"))
    fake.order("m-1").update(status=alpaca_status, filled_qty=filled_qty, filled_avg_price="187.15")

    # when
    order = broker.get_order("m-1")

    # then
    assert (order.status, order.broker_status, order.filled_qty) == (
        expected,
        alpaca_status,
        Decimal(filled_qty),
    )
    assert order.avg_fill_price == (Decimal("187.15") if filled_qty != "0" else None)


def test_the_mapping_covers_every_status_alpaca_py_knows():
    assert {status.value for status in AlpacaOrderStatus} == set(alpaca.ALPACA_STATUSES)
    assert {status for status, _, _ in STATUSES} == set(alpaca.ALPACA_STATUSES)


def test_an_unknown_status_raises_rather_than_guessing():
    with pytest.raises(BrokerUnavailable, match=r"^unknown Alpaca order status 'teleported'$"):
        order_status("teleported")


# --- positions and account ------------------------------------------------------------------------


def test_positions_are_signed_a_short_is_negative(fake, broker):
    # given
    broker.place_order(buy("b-1", symbol="AAPL", qty="10"))
    fake.fill("b-1", Decimal(10), Decimal("187.15"))
    broker.place_order(sell("s-1", symbol="MSFT", qty="5"))
    fake.fill("s-1", Decimal(5), Decimal("412.37"))

    # when
    positions = broker.get_positions()

    # then
    assert positions == [
        BrokerPosition("AAPL", Decimal(10), Decimal("187.15"), Decimal("1871.50")),
        BrokerPosition("MSFT", Decimal(-5), Decimal("412.37"), Decimal("-2061.85")),
    ]


def test_no_positions_is_an_empty_list(fake, broker):
    assert broker.get_positions() == []


@pytest.mark.parametrize(
    ("fail", "error"),
    [
        (lambda fake: fake.fail_next(500), BrokerUnavailable),
        (lambda fake: fake.rate_limit_next(retry_after="3"), BrokerRateLimited),
        (lambda fake: fake.respond_next(200, "<html>maintenance</html>"), BrokerUnavailable),
        (lambda fake: fake.respond_next(403, {"code": 40310000, "message": "forbidden"}), BrokerError),
    ],
)
def test_a_failing_positions_request_raises_and_never_reads_as_flat(fake, broker, fail, error):
    # given: a position exists
    broker.place_order(buy("b-1"))
    fake.fill("b-1", Decimal(10), Decimal(100))
    fail(fake)

    # when / then
    with pytest.raises(error):
        broker.get_positions()


def test_account_reads_cash_equity_buying_power_exactly(fake, broker):
    # given
    fake.reset(cash=Decimal("50000.01"))
    broker.place_order(buy("b-1", qty="3"))
    fake.fill("b-1", Decimal(3), Decimal("187.15"))

    # when
    account = broker.get_account()

    # then
    assert account == BrokerAccount(
        account_id=account.account_id,
        currency="USD",
        cash=Decimal("49438.56"),
        equity=Decimal("50000.01"),
        buying_power=Decimal("49438.56"),
        trading_blocked=False,
    )


def test_account_says_when_trading_is_blocked(fake, broker):
    fake.trading_blocked = True

    assert broker.get_account().trading_blocked is True
    with pytest.raises(OrderRejected, match="account is not allowed to trade"):
        broker.place_order(buy())


# --- trade updates --------------------------------------------------------------------------------


def test_the_stream_delivers_the_orders_events_and_fills(fake, broker):
    # given
    updates: queue.Queue = queue.Queue()
    stop = broker.stream_updates(updates.put)
    assert fake.listening.wait(5)

    # when
    broker.place_order(buy("t-1", qty="10"))
    first = fake.fill("t-1", Decimal(4), Decimal("187.15"))
    last = fake.fill("t-1", Decimal(6), Decimal("187.25"))
    received = [updates.get(timeout=5) for _ in range(3)]
    stop()

    # then
    assert [(u.event, u.fill_qty, u.fill_price, u.execution_id) for u in received] == [
        ("accepted", None, None, ""),
        ("partial_fill", Decimal(4), Decimal("187.15"), first["execution_id"]),
        ("fill", Decimal(6), Decimal("187.25"), last["execution_id"]),
    ]
    assert [u.ts for u in received] == [second(2), second(3), second(4)]  # nanoseconds cut to microseconds
    assert [(u.order.client_order_id, u.order.status, u.order.filled_qty) for u in received] == [
        ("t-1", OrderStatus.ACCEPTED, Decimal(0)),
        ("t-1", OrderStatus.PARTIALLY_FILLED, Decimal(4)),
        ("t-1", OrderStatus.FILLED, Decimal(10)),
    ]
    assert received[-1].order.avg_fill_price == Decimal("187.21")
    assert updates.empty()


def test_stop_ends_the_stream_at_once(fake, broker):
    # given
    updates: queue.Queue = queue.Queue()
    stop = broker.stream_updates(updates.put)
    assert fake.listening.wait(5)

    # when
    stop()
    broker.place_order(buy("t-2"))

    # then: no listener is left, and a second stop is harmless
    assert fake._listeners == []
    stop()
    assert updates.empty()


def stream_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "alpaca-trade-updates"]


def test_stop_right_after_start_ends_the_stream(fake, broker):
    stop = broker.stream_updates(lambda update: None)

    stop()

    assert stream_threads() == []


def test_stop_ends_a_stream_whose_keys_are_refused(fake):
    # given: the SDK retries a refused login forever, backing off
    broker = AlpacaBroker(
        "other-key", "other-secret", url_override=fake.url, stream_url=fake.stream_url, timeout=0.5
    )
    stop = broker.stream_updates(lambda update: None)  # waits its timeout for a subscription in vain

    # when
    stop()

    # then
    assert stream_threads() == []
    assert not fake.listening.is_set()


def test_a_handler_that_fails_does_not_end_the_stream(fake, broker):
    # given
    seen: queue.Queue = queue.Queue()

    def handler(update):
        seen.put(update.event)
        if update.event == "accepted":
            raise RuntimeError("handler bug")

    stop = broker.stream_updates(handler)
    assert fake.listening.wait(5)

    # when
    broker.place_order(buy("t-3"))
    fake.fill("t-3", Decimal(10), Decimal(100))
    events = [seen.get(timeout=5) for _ in range(2)]
    stop()

    # then
    assert events == ["accepted", "fill"]


# --- the fake itself ------------------------------------------------------------------------------


def test_the_fakes_replies_parse_as_alpaca_pys_own_models(fake, broker):
    # given
    broker.place_order(buy("b-1", qty="10"))
    update = fake.fill("b-1", Decimal(4), Decimal("187.15"))
    broker.place_order(sell("s-1", qty="5"))
    fake.fill("s-1", Decimal(5), Decimal(400))
    client = TradingClient(KEY, SECRET, url_override=fake.url)

    # when
    orders = client.get_orders()
    one = client.get_order_by_client_id("b-1")
    positions = client.get_all_positions()
    account = client.get_account()
    streamed = AlpacaTradeUpdate(**update)

    # then
    assert [(o.client_order_id, o.status, o.order_class) for o in orders] == [
        ("b-1", AlpacaOrderStatus.PARTIALLY_FILLED, OrderClass.SIMPLE)
    ]
    assert (one.qty, one.filled_qty, one.filled_avg_price) == ("10", "4", "187.15")
    assert [(p.symbol, p.side, p.qty) for p in positions] == [
        ("AAPL", PositionSide.LONG, "4"),
        ("MSFT", PositionSide.SHORT, "-5"),
    ]
    assert (account.cash, account.currency) == (str(Decimal(100_000) - Decimal("748.60") + 2000), "USD")
    assert (streamed.event, streamed.order.client_order_id) == ("partial_fill", "b-1")
