"""AlpacaBroker's option orders (one leg, and two to four as one "mleg" order) through the real
alpaca-py against the local fake of Alpaca's trading API."""

import queue
from datetime import timedelta
from decimal import Decimal

import pytest

from execution.core.brokers.base import (
    BrokerLeg,
    BrokerPosition,
    BrokerUnavailable,
    LegRequest,
    OptionOrderRequest,
    OrderRejected,
)
from execution.core.oms import order_send
from execution.tests.fake_alpaca import KEY, SECRET, START, make_broker
from marketdata.core.errors import InvalidInput, NotFound
from strategies.core.options import OptionFill
from strategies.core.types import OrderStatus, OrderType, Side, TimeInForce

CALL_500, CALL_505 = "SPY240621C00500000", "SPY240621C00505000"
PUT_480, PUT_475 = "SPY240621P00480000", "SPY240621P00475000"


@pytest.fixture
def broker(fake):
    return make_broker(fake)


def leg(symbol: str, side: str, ratio: int = 1) -> LegRequest:
    return LegRequest(symbol, Side(side), ratio)


def option_order(
    cid: str, *legs: LegRequest, qty="1", limit: str | None = None, **kwargs
) -> OptionOrderRequest:
    kind = OrderType.MARKET if limit is None else OrderType.LIMIT
    price = None if limit is None else Decimal(limit)
    return OptionOrderRequest(cid, tuple(legs), Decimal(qty), kind, price, **kwargs)


def vertical(cid="v-1", **kwargs) -> OptionOrderRequest:
    """A bull call spread: buy the 500 call, sell the 505 call."""
    return option_order(cid, leg(CALL_500, "buy"), leg(CALL_505, "sell"), **kwargs)


def iron_condor(cid="ic-1", **kwargs) -> OptionOrderRequest:
    return option_order(
        cid,
        leg(PUT_475, "buy"),
        leg(PUT_480, "sell"),
        leg(CALL_500, "sell"),
        leg(CALL_505, "buy"),
        **kwargs,
    )


def second(n: int):
    return START + timedelta(seconds=n)


# --- one leg ----------------------------------------------------------------------------------------


def test_a_single_leg_goes_as_a_plain_option_order_buy_to_open(fake, broker):
    # when
    placed = broker.place_option_order(option_order("o-1", leg(CALL_500, "buy"), qty="3"))

    # then
    assert fake.posted == [
        {"symbol": CALL_500, "qty": "3", "side": "buy", "type": "market", "time_in_force": "day",
         "client_order_id": "o-1", "position_intent": "buy_to_open"},
    ]  # fmt: skip
    assert (placed.symbol, placed.side, placed.qty, placed.status) == (
        CALL_500,
        Side.BUY,
        Decimal(3),
        OrderStatus.ACCEPTED,
    )
    assert placed.legs == (BrokerLeg(CALL_500, Side.BUY),)


def test_a_single_leg_close_is_sell_to_close_at_its_price_per_contract(fake, broker):
    # given: a credit of 2.50 per unit of two contracts (ratio 2) is 1.25 a contract
    request = option_order("o-2", leg(CALL_500, "sell", ratio=2), qty="2", limit="-2.50", reduce_only=True)

    # when
    placed = broker.place_option_order(request)

    # then
    assert fake.posted == [
        {"symbol": CALL_500, "qty": "4", "side": "sell", "type": "limit", "time_in_force": "day",
         "client_order_id": "o-2", "position_intent": "sell_to_close", "limit_price": "1.25"},
    ]  # fmt: skip
    assert (placed.qty, placed.limit_price) == (Decimal(4), Decimal("1.25"))


@pytest.mark.parametrize(
    ("side", "limit"),
    [("sell", "1.20"), ("buy", "-1.20"), ("buy", "0")],
    ids=["a sell paying a debit", "a buy receiving a credit", "a zero price"],
)
def test_a_single_leg_limit_of_the_wrong_sign_is_refused_before_sending(fake, broker, side, limit):
    # when / then
    with pytest.raises(OrderRejected, match="not a positive price per contract"):
        broker.place_option_order(option_order("o-3", leg(CALL_500, side), limit=limit))
    assert fake.posted == []


def test_a_single_leg_fill_reads_back_as_an_option_fill(fake, broker):
    # given
    broker.place_option_order(option_order("o-4", leg(PUT_480, "sell"), qty="2", limit="-3.10"))

    # when
    fake.fill("o-4", Decimal(2), Decimal("3.15"))

    # then: a credit is negative; Alpaca charges no commission
    fill = broker.get_option_fill(option_order("o-4", leg(PUT_480, "sell"), qty="2", limit="-3.10"))
    assert fill == OptionFill("o-4", "SPY", 2, -3.15, (3.15,), 0.0, second(3))
    assert broker.get_positions() == [
        BrokerPosition(PUT_480, Decimal(-2), Decimal("3.15"), Decimal("-630.00"))
    ]


# --- several legs: one mleg order -------------------------------------------------------------------


def test_a_vertical_spread_goes_as_one_mleg_order_with_a_debit_limit(fake, broker):
    # when
    placed = broker.place_option_order(vertical(qty="2", limit="1.50"))

    # then: qty is the units, the limit the net per unit, positive for a debit
    assert fake.posted == [
        {"qty": "2", "type": "limit", "time_in_force": "day", "order_class": "mleg", "client_order_id": "v-1",
         "limit_price": "1.50",
         "legs": [
             {"symbol": CALL_500, "ratio_qty": "1", "side": "buy", "position_intent": "buy_to_open"},
             {"symbol": CALL_505, "ratio_qty": "1", "side": "sell", "position_intent": "sell_to_open"},
         ]},
    ]  # fmt: skip
    assert (placed.symbol, placed.side, placed.qty, placed.limit_price, placed.order_type) == (
        "SPY",
        None,
        Decimal(2),
        Decimal("1.50"),
        OrderType.LIMIT,
    )
    assert placed.legs == (BrokerLeg(CALL_500, Side.BUY), BrokerLeg(CALL_505, Side.SELL))
    assert broker.get_order("v-1") == placed


def test_a_vertical_spreads_fill_is_the_net_of_its_legs(fake, broker):
    # given
    request = vertical(qty="2", limit="1.50")
    broker.place_option_order(request)

    # when
    fake.fill_legs("v-1", 2, [Decimal("2.10"), Decimal("0.82")])

    # then
    order = broker.get_order("v-1")
    assert (order.status, order.filled_qty, order.avg_fill_price) == (OrderStatus.FILLED, 2, Decimal("1.28"))
    assert order.legs == (
        BrokerLeg(CALL_500, Side.BUY, Decimal(2), Decimal("2.10")),
        BrokerLeg(CALL_505, Side.SELL, Decimal(2), Decimal("0.82")),
    )
    assert broker.get_option_fill(request) == OptionFill("v-1", "SPY", 2, 1.28, (2.10, 0.82), 0.0, second(3))
    assert {p.symbol: p.qty for p in broker.get_positions()} == {CALL_500: 2, CALL_505: -2}


def test_an_iron_condor_goes_as_four_legs_for_a_credit(fake, broker):
    # given
    request = iron_condor(qty="3", limit="-1.10")

    # when
    placed = broker.place_option_order(request)
    fake.fill_legs("ic-1", 3, [Decimal("0.40"), Decimal("1.05"), Decimal("0.95"), Decimal("0.35")])

    # then: the limit is negative (a credit), and so is the net it filled at, better than the limit
    assert fake.posted[0]["limit_price"] == "-1.10"
    assert [(b["symbol"], b["side"], b["position_intent"]) for b in fake.posted[0]["legs"]] == [
        (PUT_475, "buy", "buy_to_open"),
        (PUT_480, "sell", "sell_to_open"),
        (CALL_500, "sell", "sell_to_open"),
        (CALL_505, "buy", "buy_to_open"),
    ]
    assert placed.limit_price == Decimal("-1.10")
    fill = broker.get_option_fill(request)
    assert (fill.qty, fill.net_price, fill.leg_prices) == (3, -1.25, (0.40, 1.05, 0.95, 0.35))
    assert fake.cash == Decimal(100_000) + Decimal("1.25") * 3 * 100


def test_a_ratio_spread_sends_its_ratios_and_charges_per_contract_when_configured(fake):
    # given: buy one 500 call, sell two 505 calls, three units; 0.65 a contract
    broker = make_broker(fake, option_commission=Decimal("0.65"))
    request = option_order("r-1", leg(CALL_500, "buy"), leg(CALL_505, "sell", ratio=2), qty="3", limit="0.20")

    # when
    broker.place_option_order(request)
    fake.fill_legs("r-1", 3, [Decimal("2.10"), Decimal("0.97")])

    # then: 9 contracts in all
    assert [(b["ratio_qty"], b["side"]) for b in fake.posted[0]["legs"]] == [("1", "buy"), ("2", "sell")]
    assert [(leg["qty"], leg["ratio_qty"]) for leg in fake.order("r-1")["legs"]] == [("3", "1"), ("6", "2")]
    fill = broker.get_option_fill(request)
    assert (fill.qty, fill.net_price, fill.leg_prices, fill.commission) == (3, 0.16, (2.10, 0.97), 5.85)


def test_a_closing_spread_is_bought_and_sold_to_close(fake, broker):
    # when
    broker.place_option_order(
        option_order("c-1", leg(CALL_500, "sell"), leg(CALL_505, "buy"), limit="-0.60", reduce_only=True)
    )

    # then
    assert [b["position_intent"] for b in fake.posted[0]["legs"]] == ["sell_to_close", "buy_to_close"]


def test_a_partial_fill_of_a_spread_is_partially_filled_with_whole_units(fake, broker):
    # given
    request = vertical(qty="5", limit="1.50")
    broker.place_option_order(request)

    # when
    fake.fill_legs("v-1", 2, [Decimal("2.00"), Decimal("0.75")])

    # then
    order = broker.get_order("v-1")
    assert (order.status, order.filled_qty) == (OrderStatus.PARTIALLY_FILLED, 2)
    assert broker.get_option_fill(request).qty == 2


def test_an_unfilled_option_order_has_no_fill_and_an_unknown_one_is_not_found(fake, broker):
    # given
    broker.place_option_order(vertical(limit="1.50"))

    # then
    assert broker.get_option_fill(vertical(limit="1.50")) is None
    with pytest.raises(NotFound):
        broker.get_option_fill(vertical("v-unknown", limit="1.50"))


# --- refusals, failures, idempotency ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            option_order("x-1", leg(CALL_500, "buy", 2), leg(CALL_505, "sell", 2), limit="2.50"),
            "leg ratios must be in their simplest form",
        ),
        (vertical("x-2", limit="1.50", tif=TimeInForce.GTC), "options orders must be day orders"),
        (option_order("x-3", leg(CALL_500, "buy"), tif=TimeInForce.GTC), "options orders must be day orders"),
        (vertical("x-4", qty="700", limit="2.00"), "insufficient options buying power"),
    ],
    ids=["ratios not in lowest terms", "gtc spread", "gtc single leg", "buying power"],
)
def test_alpacas_refusals_of_option_orders_are_order_rejected(fake, broker, request_, message):
    # when / then
    with pytest.raises(OrderRejected, match=message):
        broker.place_option_order(request_)
    assert fake.orders == {}


@pytest.mark.parametrize(
    ("legs", "message"),
    [
        ((leg(CALL_500, "buy"), leg("QQQ240621C00400000", "sell")), "share one underlying"),
        ((leg(CALL_500, "buy"), leg(CALL_500, "sell")), "names a contract twice"),
        ((leg("SPY", "buy"),), "too short"),
        (tuple(leg(f"SPY240621C00{500 + i}000", "buy") for i in range(5)), "1 to 4 legs"),
    ],
)
def test_bad_legs_are_refused_before_anything_is_sent(fake, legs, message):
    with pytest.raises(InvalidInput, match=message):
        option_order("x-5", *legs)


def test_a_reused_client_order_id_is_refused_and_leaves_one_order(fake, broker):
    # given
    broker.place_option_order(vertical(limit="1.50"))

    # when / then
    with pytest.raises(OrderRejected, match="client_order_id must be unique"):
        broker.place_option_order(vertical(limit="1.50"))
    assert len(fake.orders) == 1


def test_an_option_order_that_times_out_is_found_by_the_oms_and_never_sent_twice(fake):
    # given: Alpaca places it but its answer never arrives within the timeout
    broker = make_broker(fake, timeout=0.5)
    fake.hang_next()

    # when
    sent = order_send(broker, iron_condor(limit="-1.10"))
    fake.release()

    # then
    assert fake.count("POST", "/v2/orders") == 1
    assert len(fake.orders) == 1
    assert (sent.order.client_order_id, sent.order.symbol, sent.resubmitted) == ("ic-1", "SPY", False)
    assert len(sent.order.legs) == 4


def test_an_option_order_lost_to_a_server_error_is_resent_once_with_its_id(fake, broker):
    # given: the first POST fails before Alpaca places anything
    fake.fail_next(500)

    # when
    sent = order_send(broker, vertical(limit="1.50"))

    # then
    assert fake.count("POST", "/v2/orders") == 2
    assert [o["client_order_id"] for o in fake.orders.values()] == ["v-1"]
    assert (sent.order.client_order_id, sent.resubmitted) == ("v-1", True)


def test_a_server_error_on_an_option_order_is_unavailable(fake, broker):
    fake.fail_next(503)
    with pytest.raises(BrokerUnavailable, match="HTTP 503"):
        broker.place_option_order(vertical(limit="1.50"))


def test_cancel_cancels_a_spread_and_its_legs(fake, broker):
    # given
    broker.place_option_order(vertical(limit="1.50"))

    # when
    broker.cancel_order("v-1")

    # then
    order = broker.get_order("v-1")
    assert (order.status, order.broker_status) == (OrderStatus.CANCELED, "canceled")
    assert [leg["status"] for leg in fake.order("v-1")["legs"]] == ["canceled", "canceled"]


def test_the_stream_reports_a_spreads_fill_in_units_at_the_net_with_its_commission(fake):
    # given
    broker = make_broker(fake, option_commission=Decimal("0.50"))
    updates: queue.Queue = queue.Queue()
    stop = broker.stream_updates(updates.put)
    try:
        broker.place_option_order(vertical(qty="2", limit="1.50"))

        # when
        fake.fill_legs("v-1", 2, [Decimal("2.10"), Decimal("0.82")])

        # then
        events = [updates.get(timeout=5) for _ in range(2)]
    finally:
        stop()
    accepted, fill = events
    assert (accepted.event, fill.event) == ("accepted", "fill")
    assert (fill.fill_qty, fill.fill_price, fill.commission) == (Decimal(2), Decimal("1.28"), Decimal("2.00"))
    assert fill.order.legs[1] == BrokerLeg(CALL_505, Side.SELL, Decimal(2), Decimal("0.82"))


def test_the_fakes_option_replies_parse_as_alpaca_pys_own_models(fake, broker):
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import OrderClass

    # given
    broker.place_option_order(iron_condor(limit="-1.10"))
    broker.place_option_order(option_order("o-1", leg(CALL_500, "buy")))
    client = TradingClient(KEY, SECRET, url_override=fake.url)

    # when
    mleg = client.get_order_by_client_id("ic-1")
    single = client.get_order_by_client_id("o-1")

    # then
    assert (mleg.order_class, mleg.symbol, len(mleg.legs), mleg.legs[0].ratio_qty) == (
        OrderClass.MLEG,
        None,
        4,
        "1",
    )
    assert (single.symbol, single.asset_class.value) == (CALL_500, "us_option")
