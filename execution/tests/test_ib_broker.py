"""IBBroker over a fake ib_async IB: orders by client_order_id, exact Decimals, rejections and
silences, cancels, positions and account, reconnection, the status mapping and the stream."""

from datetime import timedelta
from decimal import Decimal

import pytest
from ib_async import Contract, Stock, Trade, TradeLogEntry
from ib_async.order import LimitOrder, MarketOrder, Order
from ib_async.order import OrderStatus as IBOrderStatus

from execution.core.brokers.base import (
    BrokerAccount,
    BrokerError,
    BrokerOrder,
    BrokerPosition,
    BrokerUnavailable,
    OrderRejected,
    OrderRequest,
)
from execution.core.brokers.ib import IBBroker, ib_order_status
from execution.tests.fake_ib import ACCOUNT, T0, FakeIB, account_value, position
from marketdata.core.errors import NotFound
from strategies.core.types import OrderStatus, OrderType, Side, TimeInForce

S = timedelta(seconds=1)


def broker(fake: FakeIB, **kwargs) -> IBBroker:
    options = {"host": "127.0.0.1", "port": 4002, "client_id": 7, "paper": True, "timeout": 0.05}
    return IBBroker(**(options | kwargs), ib=fake)


def request(coid="c-1", side=Side.BUY, qty="10", kind=OrderType.MARKET, limit=None, stop=None, tif=None):
    return OrderRequest(
        client_order_id=coid,
        symbol="AAPL",
        side=side,
        qty=Decimal(qty),
        order_type=kind,
        limit_price=None if limit is None else Decimal(limit),
        stop_price=None if stop is None else Decimal(stop),
        tif=tif or TimeInForce.DAY,
    )


def ib_trade(status: str, *, filled=0.0, log=(), order_ref="x") -> Trade:
    entries = [TradeLogEntry(T0, word, message, code) for word, message, code in log]
    order = MarketOrder("BUY", 10.0, orderRef=order_ref)
    return Trade(
        Stock("AAPL", "SMART", "USD"), order, IBOrderStatus(status=status, filled=filled), [], entries
    )


# ----- placing and reading orders


def test_a_market_order_is_sent_with_its_client_order_id_as_order_ref_and_answered_acknowledged():
    fake = FakeIB()

    order = broker(fake).place_order(request("c-1", qty="10"))

    assert order == BrokerOrder(
        client_order_id="c-1",
        broker_order_id="90001",
        symbol="AAPL",
        side=Side.BUY,
        qty=Decimal("10"),
        order_type=OrderType.MARKET,
        status=OrderStatus.ACCEPTED,
        broker_status="Submitted",
        tif=TimeInForce.DAY,
        submitted_at=T0,
        updated_at=T0 + 2 * S,
    )
    [sent] = fake.gateway
    assert (sent.contract.symbol, sent.contract.secType, sent.contract.exchange, sent.contract.currency) == (
        "AAPL",
        "STK",
        "SMART",
        "USD",
    )
    assert (sent.order.orderType, sent.order.action, sent.order.totalQuantity) == ("MKT", "BUY", 10.0)
    assert (sent.order.orderRef, sent.order.tif, sent.order.account) == ("c-1", "DAY", "")


def test_a_limit_order_keeps_its_exact_decimals_and_ib_receives_the_same_digits_as_floats():
    fake = FakeIB()
    ib = broker(fake, account=ACCOUNT)

    placed = ib.place_order(
        request("c-2", side=Side.SELL, qty="12.5", kind=OrderType.LIMIT, limit="101.37", tif=TimeInForce.GTC)
    )

    assert (placed.qty, placed.limit_price, placed.stop_price) == (Decimal("12.5"), Decimal("101.37"), None)
    assert str(placed.limit_price) == "101.37"
    [sent] = fake.gateway
    assert (sent.order.orderType, sent.order.action, sent.order.lmtPrice) == ("LMT", "SELL", 101.37)
    assert (sent.order.totalQuantity, sent.order.tif, sent.order.account) == (12.5, "GTC", ACCOUNT)
    assert ib.get_order("c-2") == placed


def test_stop_and_stop_limit_orders_carry_their_stop_as_ibs_aux_price():
    fake = FakeIB()
    ib = broker(fake)

    stop = ib.place_order(request("c-3", side=Side.SELL, kind=OrderType.STOP, stop="95.05"))
    stop_limit = ib.place_order(request("c-4", kind=OrderType.STOP_LIMIT, limit="105.5", stop="105.25"))

    assert (stop.order_type, stop.stop_price, stop.limit_price) == (OrderType.STOP, Decimal("95.05"), None)
    assert (stop_limit.order_type, stop_limit.limit_price, stop_limit.stop_price) == (
        OrderType.STOP_LIMIT,
        Decimal("105.5"),
        Decimal("105.25"),
    )
    sent = [(t.order.orderType, t.order.lmtPrice, t.order.auxPrice) for t in fake.gateway]
    assert sent[0][0::2] == ("STP", 95.05)
    assert sent[1] == ("STP LMT", 105.5, 105.25)


def test_a_broker_with_no_memory_of_the_request_reads_the_same_decimals_back_from_ib():
    fake = FakeIB()
    broker(fake).place_order(request("c-5", qty="3", kind=OrderType.STOP_LIMIT, limit="20.1", stop="19.95"))

    read = broker(fake).get_order("c-5")

    assert (read.qty, read.limit_price, read.stop_price) == (
        Decimal("3.0"),
        Decimal("20.1"),
        Decimal("19.95"),
    )
    assert (read.order_type, read.status, read.broker_status) == (
        OrderType.STOP_LIMIT,
        OrderStatus.ACCEPTED,
        "Submitted",
    )


def test_a_market_order_filled_while_awaiting_acknowledgment_comes_back_filled():
    fake = FakeIB(reaction="fill")
    fake.fill_price = 187.42

    order = broker(fake).place_order(request("c-6", qty="10"))

    assert (order.status, order.broker_status, order.filled_qty, order.avg_fill_price) == (
        OrderStatus.FILLED,
        "Filled",
        Decimal("10.0"),
        Decimal("187.42"),
    )


def test_a_reused_client_order_id_is_refused_without_a_second_ib_order():
    fake = FakeIB()
    ib = broker(fake)
    ib.place_order(request("c-7"))

    with pytest.raises(OrderRejected) as e:
        ib.place_order(request("c-7", qty="99"))

    assert e.value.message == "client_order_id c-7 is already used by IB order 90001 (Submitted)"
    assert e.value.details == {"broker_order_id": "90001"}
    assert [t.order.orderRef for t in fake.gateway] == ["c-7"]
    assert fake.calls.count("placeOrder") == 1


def test_get_order_of_an_unknown_id_asks_ib_for_all_open_and_completed_orders_then_answers_none():
    fake = FakeIB()
    ib = broker(fake)
    ib.place_order(request("c-8"))

    assert ib.get_order("never-sent") is None
    assert fake.calls.count("reqAllOpenOrders") == 1
    assert fake.calls.count("reqCompletedOrders") == 1


def test_get_order_finds_a_completed_order_of_an_earlier_session_by_its_order_ref():
    fake = FakeIB()
    # A completed order as ib_async reads it: status from the order state, fills on the order.
    order = LimitOrder("BUY", 5.0, 42.5, orderRef="c-old", permId=777, filledQuantity=5.0, tif="DAY")
    fake.add_earlier_order(
        Trade(Stock("MSFT", "SMART", "USD"), order, IBOrderStatus(status="Filled"), [], [])
    )

    found = broker(fake).get_order("c-old")

    assert found == BrokerOrder(
        client_order_id="c-old",
        broker_order_id="777",
        symbol="MSFT",
        side=Side.BUY,
        qty=Decimal("5.0"),
        order_type=OrderType.LIMIT,
        status=OrderStatus.FILLED,
        broker_status="Filled",
        filled_qty=Decimal("5.0"),
        avg_fill_price=None,
        limit_price=Decimal("42.5"),
    )


def test_get_open_orders_lists_the_working_orders_only():
    fake = FakeIB()
    ib = broker(fake)
    ib.place_order(request("c-9"))
    ib.place_order(request("c-10"))
    fake.fill(fake.gateway[1], 10.0, 50.0)

    assert [(o.client_order_id, o.status) for o in ib.get_open_orders()] == [("c-9", OrderStatus.ACCEPTED)]


# ----- rejections and silences


def test_a_rejection_raises_order_rejected_with_ibs_message_and_reads_back_rejected():
    fake = FakeIB(reaction="reject")
    ib = broker(fake)

    with pytest.raises(OrderRejected) as e:
        ib.place_order(request("c-11"))

    assert e.value.message == (
        "IB rejected order c-11: Error 201, reqId 1: "
        "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. INSUFFICIENT EQUITY"
    )
    assert e.value.details == {"broker_status": "Cancelled"}
    read = ib.get_order("c-11")
    assert (read.status, read.broker_status) == (OrderStatus.REJECTED, "Cancelled")


def test_an_inactive_order_is_rejected_with_the_error_that_follows_it():
    fake = FakeIB(reaction="reject_inactive")
    fake.rejection = (203, "The security AAPL is not available or allowed for this account.")
    ib = broker(fake)

    with pytest.raises(OrderRejected) as e:
        ib.place_order(request("c-12"))

    assert e.value.message == (
        "IB rejected order c-12: Error 203: The security AAPL is not available or allowed for this account."
    )
    assert (ib.get_order("c-12").status, ib.get_order("c-12").broker_status) == (
        OrderStatus.REJECTED,
        "Inactive",
    )


def test_no_acknowledgment_within_the_timeout_is_broker_unavailable_and_the_order_stays_findable():
    fake = FakeIB(reaction="silence")
    ib = broker(fake)

    with pytest.raises(BrokerUnavailable) as e:
        ib.place_order(request("c-13"))

    assert e.value.message == (
        "IB did not acknowledge order c-13 within 0.05s (status PendingSubmit): outcome unknown"
    )
    read = ib.get_order("c-13")
    assert (read.status, read.broker_status, read.broker_order_id) == (
        OrderStatus.SUBMITTED,
        "PendingSubmit",
        "7:1",
    )


def test_a_connection_dropped_while_awaiting_acknowledgment_is_broker_unavailable():
    fake = FakeIB(reaction="silence")
    ib = broker(fake)
    ib.get_open_orders()
    fake.drop_during = "waitOnUpdate"

    with pytest.raises(BrokerUnavailable, match="outcome unknown"):
        ib.place_order(request("c-14"))


# ----- cancels


def test_cancel_asks_ib_and_the_order_reads_canceled_once_ib_confirms():
    fake = FakeIB()
    ib = broker(fake)
    ib.place_order(request("c-15", kind=OrderType.LIMIT, limit="10"))

    ib.cancel_order("c-15")
    pending = ib.get_order("c-15")
    ib.wait_for_updates(0.01)
    done = ib.get_order("c-15")

    assert (pending.status, pending.broker_status) == (OrderStatus.ACCEPTED, "PendingCancel")
    assert (done.status, done.broker_status) == (OrderStatus.CANCELED, "Cancelled")


def test_cancel_of_an_unknown_order_is_not_found_and_of_a_filled_one_sends_nothing():
    fake = FakeIB(reaction="fill")
    ib = broker(fake)
    ib.place_order(request("c-16"))

    with pytest.raises(NotFound, match="IB has no order with client_order_id nope"):
        ib.cancel_order("nope")
    ib.cancel_order("c-16")

    assert fake.calls.count("cancelOrder") == 0
    assert ib.get_order("c-16").status is OrderStatus.FILLED


# ----- positions and account


def test_positions_are_signed_with_their_average_cost_and_only_this_accounts():
    fake = FakeIB()
    fake.position_rows = [
        position("AAPL", 10.0, 150.25),
        position("TSLA", -5.0, 200.5),
        position("MSFT", 0.0, 0.0),
        position("NVDA", 3.0, 90.0, account="DU7654321"),
    ]

    positions = broker(fake).get_positions()

    assert positions == [
        BrokerPosition(symbol="AAPL", qty=Decimal("10.0"), avg_entry_price=Decimal("150.25")),
        BrokerPosition(symbol="TSLA", qty=Decimal("-5.0"), avg_entry_price=Decimal("200.5")),
    ]


def test_a_failed_positions_request_raises_and_never_reads_as_flat():
    fake = FakeIB()
    fake.position_rows = [position("AAPL", 10.0, 150.25)]
    ib = broker(fake)
    ib.get_open_orders()
    fake.failures["reqPositions"] = TimeoutError()

    with pytest.raises(BrokerUnavailable, match=r"^IB positions failed: TimeoutError$"):
        ib.get_positions()
    assert len(fake.connect_calls) == 1  # the connection was up: a timeout is not retried


def test_the_account_comes_from_its_values_in_its_own_currency():
    fake = FakeIB()
    fake.values = [
        account_value("NetLiquidation", "100250.37"),
        account_value("TotalCashValue", "52000.10"),
        account_value("BuyingPower", "401001.48"),
        account_value("TotalCashBalance", "999.00", currency="BASE"),
        account_value("NetLiquidation", "5.00", account="DU7654321"),
    ]

    account = broker(fake).get_account()

    assert account == BrokerAccount(
        account_id=ACCOUNT,
        currency="USD",
        cash=Decimal("52000.10"),
        equity=Decimal("100250.37"),
        buying_power=Decimal("401001.48"),
    )


def test_the_account_summary_is_asked_when_the_account_values_are_incomplete_and_missing_figures_raise():
    fake = FakeIB()
    fake.values = [account_value("NetLiquidation", "1000")]
    fake.summary = [
        account_value("NetLiquidation", "1000"),
        account_value("TotalCashValue", "400"),
        account_value("BuyingPower", "4000"),
    ]
    ib = broker(fake)

    assert (ib.get_account().equity, ib.get_account().cash) == (Decimal("1000"), Decimal("400"))

    fake.summary = []
    with pytest.raises(
        BrokerUnavailable, match=f"^IB sent no TotalCashValue, BuyingPower for account {ACCOUNT}$"
    ):
        ib.get_account()


def test_a_login_with_several_accounts_needs_the_account_named():
    fake = FakeIB(accounts=("DU1", "DU2"))

    with pytest.raises(BrokerError, match=r"manages several accounts \(DU1, DU2\): name the account"):
        broker(fake).get_positions()
    assert broker(fake, account="DU2").get_positions() == []


# ----- connection


def test_the_broker_connects_on_first_use_with_its_settings():
    fake = FakeIB()
    ib = broker(fake, account=ACCOUNT)

    assert fake.connect_calls == []
    ib.get_positions()
    ib.get_positions()

    assert fake.connect_calls == [
        {
            "host": "127.0.0.1",
            "port": 4002,
            "clientId": 7,
            "timeout": 0.05,
            "readonly": False,
            "account": ACCOUNT,
            "raiseSyncErrors": True,
        }
    ]
    assert (fake.RequestTimeout, ib.name, ib.paper) == (0.05, "ib", True)


def test_a_lost_connection_is_reconnected_once_and_the_session_orders_are_found_again():
    fake = FakeIB()
    ib = broker(fake)
    ib.place_order(request("c-17"))
    fake.drop()

    with pytest.raises(OrderRejected, match="already used"):
        ib.place_order(request("c-17"))
    assert len(fake.connect_calls) == 2
    assert ib.get_order("c-17").status is OrderStatus.ACCEPTED


def test_a_connection_dropped_during_a_read_is_reconnected_once_and_the_read_repeated():
    fake = FakeIB()
    fake.position_rows = [position("AAPL", 1.0, 10.0)]
    ib = broker(fake)
    ib.get_open_orders()
    fake.drop_during = "reqPositions"

    assert [p.symbol for p in ib.get_positions()] == ["AAPL"]
    assert len(fake.connect_calls) == 2


def test_a_dead_gateway_is_broker_unavailable_after_one_attempt_per_call():
    fake = FakeIB()
    fake.refusal = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 4002)")
    ib = broker(fake)

    with pytest.raises(BrokerUnavailable) as e:
        ib.get_positions()

    assert e.value.message == (
        "IB gateway at 127.0.0.1:4002 refused the connection: is TWS or IB Gateway running there "
        "with its API enabled?"
    )
    assert len(fake.connect_calls) == 1


def test_a_gateway_that_does_not_answer_and_one_lost_for_good_are_broker_unavailable():
    fake = FakeIB()
    ib = broker(fake)
    ib.place_order(request("c-18"))
    fake.drop()
    fake.refusal = TimeoutError()

    with pytest.raises(
        BrokerUnavailable, match=r"^IB gateway at 127.0.0.1:4002 did not answer within 0.05s$"
    ):
        ib.get_order("c-18")
    with pytest.raises(BrokerUnavailable):
        ib.place_order(request("c-19"))
    assert len(fake.connect_calls) == 3
    assert [t.order.orderRef for t in fake.gateway] == ["c-18"]


# ----- status mapping


ACK = ("Submitted", "", 0)


@pytest.mark.parametrize(
    ("ib_status", "filled", "log", "expected"),
    [
        ("PendingSubmit", 0, [], OrderStatus.SUBMITTED),
        ("ApiPending", 0, [], OrderStatus.SUBMITTED),
        ("PreSubmitted", 0, [], OrderStatus.ACCEPTED),
        ("Submitted", 0, [], OrderStatus.ACCEPTED),
        ("Submitted", 4, [ACK], OrderStatus.PARTIALLY_FILLED),
        ("PreSubmitted", 4, [ACK], OrderStatus.PARTIALLY_FILLED),
        ("PendingCancel", 0, [ACK], OrderStatus.ACCEPTED),
        ("ValidationError", 0, [ACK], OrderStatus.ACCEPTED),
        ("ValidationError", 0, [], OrderStatus.SUBMITTED),
        ("ApiUpdate", 0, [ACK], OrderStatus.ACCEPTED),
        ("Filled", 10, [ACK], OrderStatus.FILLED),
        (
            "Cancelled",
            0,
            [ACK, ("Cancelled", "Error 202, reqId 1: Order Canceled - reason:", 202)],
            OrderStatus.CANCELED,
        ),
        ("Cancelled", 4, [ACK], OrderStatus.CANCELED),
        ("ApiCancelled", 0, [ACK], OrderStatus.CANCELED),
        ("Cancelled", 0, [], OrderStatus.CANCELED),
        ("Cancelled", 0, [ACK, ("Cancelled", "Order expired at the close (DAY)", 0)], OrderStatus.EXPIRED),
        ("Cancelled", 0, [("Cancelled", "Error 201, reqId 1: Order rejected", 201)], OrderStatus.REJECTED),
        ("Inactive", 0, [], OrderStatus.REJECTED),
        ("SomethingNew", 0, [], OrderStatus.SUBMITTED),
    ],
)
def test_every_ib_status_maps_onto_the_platforms(ib_status, filled, log, expected):
    assert ib_order_status(ib_trade(ib_status, filled=filled, log=log)) == expected


def test_the_raw_ib_status_is_kept_beside_the_mapped_one():
    fake = FakeIB()
    fake.add_earlier_order(ib_trade("ApiCancelled", order_ref="c-20"))

    read = broker(fake).get_order("c-20")

    assert (read.status, read.broker_status) == (OrderStatus.CANCELED, "ApiCancelled")


# ----- the stream


def test_the_stream_delivers_acknowledgment_partial_and_full_fills_until_stopped():
    fake = FakeIB()
    ib = broker(fake)
    updates = []
    stop = ib.stream_updates(updates.append)

    ib.place_order(request("c-21", kind=OrderType.LIMIT, limit="101.5"))
    trade = fake.gateway[0]
    fake.fill(trade, 4.0, 101.0)
    fake.fill(trade, 6.0, 101.5)
    stop()
    fake.fill(trade, 1.0, 102.0)

    assert [
        (
            u.event,
            u.order.status,
            u.fill_qty,
            u.fill_price,
            u.execution_id,
            u.order.filled_qty,
            u.order.avg_fill_price,
        )
        for u in updates
    ] == [
        ("accepted", OrderStatus.ACCEPTED, None, None, "", Decimal(0), None),
        (
            "partial_fill",
            OrderStatus.PARTIALLY_FILLED,
            Decimal("4.0"),
            Decimal("101.0"),
            "0000e1a7.0001.01.01",
            Decimal("4.0"),
            Decimal("101.0"),
        ),
        (
            "fill",
            OrderStatus.FILLED,
            Decimal("6.0"),
            Decimal("101.5"),
            "0000e1a7.0002.01.01",
            Decimal("10.0"),
            Decimal("101.3"),
        ),
    ]
    assert [u.ts for u in updates] == [T0 + 1 * S, T0 + 3 * S, T0 + 5 * S]
    assert {u.order.client_order_id for u in updates} == {"c-21"}


def test_the_stream_tells_a_cancel_and_a_rejection():
    fake = FakeIB()
    ib = broker(fake)
    updates = []
    ib.stream_updates(updates.append)
    ib.place_order(request("c-22", kind=OrderType.LIMIT, limit="10"))
    ib.cancel_order("c-22")
    ib.wait_for_updates(0.01)
    fake.reaction = "reject"
    with pytest.raises(OrderRejected):
        ib.place_order(request("c-23"))

    assert [(u.event, u.order.client_order_id, u.order.broker_status) for u in updates] == [
        ("accepted", "c-22", "PreSubmitted"),
        ("pending_cancel", "c-22", "PendingCancel"),
        ("canceled", "c-22", "Cancelled"),
        ("rejected", "c-23", "Cancelled"),
    ]


def test_a_contract_other_than_a_stock_is_named_by_its_local_symbol():
    fake = FakeIB()
    option = Contract(secType="OPT", symbol="AAPL", localSymbol="AAPL  240621C00190000")
    fake.add_earlier_order(
        Trade(option, Order(orderRef="c-24", action="SELL", totalQuantity=1.0, orderType="MKT"))
    )

    assert broker(fake).get_order("c-24").symbol == "AAPL  240621C00190000"
