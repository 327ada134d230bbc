"""The simulated broker's fill rules: timing, order types, costs, partial fills, expiry."""

from datetime import UTC, datetime

import pytest

from execution.core.costs import CommissionModel, SlippageModel
from execution.core.portfolio import Portfolio
from execution.core.simulated import SimulatedBroker
from marketdata.core.errors import InvalidInput
from strategies.core.types import Order, OrderStatus, OrderType, PriceBar, Side, TimeInForce


def bar(i, o, h, lo, c, v=10_000, day=2):
    return PriceBar("X", datetime(2024, 1, day, tzinfo=UTC), o, h, lo, c, v, i)


def broker(cash=10_000.0, timing="close", commission=None, slippage=None, participation=None):
    return SimulatedBroker(
        Portfolio(cash),
        commission=commission or CommissionModel(),
        slippage=slippage or SlippageModel(bps=0),
        fill_timing=timing,
        max_participation=participation,
    )


def test_market_order_fills_at_the_signal_close_with_slippage_and_the_seeds_commission():
    b = broker(commission=CommissionModel(per_trade=1.0), slippage=SlippageModel(bps=10))

    fills = b.submit(Order("X", Side.BUY, qty=10), bar(0, 99, 101, 98, 100))

    assert [(f.qty, f.price, f.commission) for f in fills] == [(10, 100.1, 1.0)]
    assert b.portfolio.cash == pytest.approx(10_000 - 1001 - 1)
    sell = b.submit(Order("X", Side.SELL, qty=10), bar(1, 100, 111, 99, 110))
    assert sell[0].price == pytest.approx(109.89)


def test_next_open_fills_at_the_following_open():
    b = broker(timing="next_open")
    order = Order("X", Side.BUY, qty=5)

    assert b.submit(order, bar(0, 99, 101, 98, 100)) == []
    fills = b.on_bar_open(bar(1, 102, 103, 100, 101))

    assert [(f.qty, f.price, f.bar_index) for f in fills] == [(5, 102, 1)]
    assert order.status is OrderStatus.FILLED


def test_equity_fraction_is_sized_at_fill_time_net_of_commission():
    b = broker(cash=1_000, timing="next_open", commission=CommissionModel(per_trade=1, bps=10))
    b.submit(Order("X", Side.BUY, equity_fraction=1.0), bar(0, 10, 10, 10, 10))

    fills = b.on_bar_open(bar(1, 33, 34, 32, 33))

    # (1000 - 1) / (33 x 1.001) = 30.24 -> 30 shares; 30 x 33 + 1 + 0.99 = 991.99 <= 1000
    assert [(f.qty, f.commission) for f in fills] == [(30, pytest.approx(1.99))]


def test_notional_order_buys_whole_shares_of_the_money():
    b = broker()

    fills = b.submit(Order("X", Side.BUY, notional=1_000), bar(0, 30, 31, 29, 30.5))

    assert fills[0].qty == 32


def test_buy_limit_fills_at_the_better_of_open_and_limit_from_the_next_bar():
    b = broker()
    order = Order("X", Side.BUY, qty=1, order_type=OrderType.LIMIT, limit_price=95)
    b.submit(order, bar(0, 100, 101, 94, 100))  # same bar's low does not count

    assert b.on_bar_open(bar(1, 99, 100, 96, 97)) == []
    gap = b.on_bar_open(bar(2, 93, 96, 92, 95))

    assert [(f.price, f.bar_index) for f in gap] == [(93, 2)]


def test_sell_stop_triggers_and_fills_at_the_worse_of_open_and_stop_with_slippage():
    b = broker(slippage=SlippageModel(bps=10))
    b.submit(Order("X", Side.BUY, qty=2), bar(0, 100, 100, 100, 100))
    stop = Order("X", Side.SELL, qty=2, order_type=OrderType.STOP, stop_price=95)
    b.submit(stop, bar(0, 100, 100, 100, 100))

    inside = b.on_bar_open(bar(1, 97, 98, 94, 96))

    assert inside[0].price == pytest.approx(95 * 0.999)
    assert stop.status is OrderStatus.FILLED


def test_stop_limit_needs_the_stop_then_the_limit():
    b = broker()
    order = Order("X", Side.BUY, qty=1, order_type=OrderType.STOP_LIMIT, stop_price=105, limit_price=106)
    b.submit(order, bar(0, 100, 101, 99, 100))

    assert b.on_bar_open(bar(1, 108, 110, 107, 109)) == []  # stop touched, but the price is above the limit
    fills = b.on_bar_open(bar(2, 107, 107, 105.5, 106))

    assert [f.price for f in fills] == [106]
    assert order.triggered


def test_participation_cap_turns_a_big_order_into_partial_fills_over_bars():
    b = broker(cash=1_000_000, participation=0.1)
    order = Order("X", Side.BUY, qty=250)

    first = b.submit(order, bar(0, 10, 10, 10, 10, v=1_000))
    second = b.on_bar_close(bar(1, 10, 10, 10, 10, v=1_000))
    third = b.on_bar_close(bar(2, 10, 10, 10, 10, v=1_000))

    assert [f.qty for f in first + second + third] == [100, 100, 50]
    assert (order.status, order.filled_qty) == (OrderStatus.FILLED, 250)


def test_volume_impact_grows_with_participation():
    b = broker(cash=1_000_000, slippage=SlippageModel(bps=0, impact_bps=100))

    small = b.submit(Order("X", Side.BUY, qty=10), bar(0, 100, 100, 100, 100, v=1_000))
    large = b.submit(Order("X", Side.BUY, qty=1_000), bar(1, 100, 100, 100, 100, v=1_000))

    assert small[0].price == pytest.approx(100 * (1 + 100 * 0.1 / 10_000))
    assert large[0].price == pytest.approx(101.0)


def test_day_orders_expire_after_the_session_they_work_in_and_gtc_orders_stay():
    b = broker()
    day = Order("X", Side.BUY, qty=1, order_type=OrderType.LIMIT, limit_price=50, tif=TimeInForce.DAY)
    gtc = Order("X", Side.BUY, qty=1, order_type=OrderType.LIMIT, limit_price=50)
    b.submit(day, bar(0, 100, 100, 100, 100))
    b.submit(gtc, bar(0, 100, 100, 100, 100))

    b.end_of_session({"X": 0})  # placed at the session's last bar: it works in the next session
    assert day.status is OrderStatus.ACCEPTED
    b.on_bar_open(bar(1, 100, 100, 99, 100))
    b.end_of_session({"X": 1})

    assert (day.status, gtc.status) == (OrderStatus.EXPIRED, OrderStatus.ACCEPTED)
    assert b.working["X"] == [gtc]


def test_per_share_commission_has_its_minimum():
    model = CommissionModel(per_share=0.005, minimum=1.0)

    assert model.cost(100, 50) == 1.0
    assert model.cost(1_000, 50) == 5.0


def test_short_selling_and_covering_books_the_pnl():
    b = broker()
    b.submit(Order("X", Side.SELL, qty=10), bar(0, 100, 100, 100, 100))
    b.submit(Order("X", Side.BUY, qty=10, reduce_only=True), bar(1, 90, 90, 90, 90))

    assert b.portfolio.position("X") == 0
    assert b.portfolio.cash == 10_100


def test_reduce_only_with_nothing_to_reduce_is_rejected():
    b = broker()
    order = Order("X", Side.SELL, qty=5, reduce_only=True)

    assert b.submit(order, bar(0, 100, 100, 100, 100)) == []
    assert order.status is OrderStatus.REJECTED
    assert b.rejected == [(order, "reduce-only order with nothing to reduce")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"qty": 1, "notional": 5}, "exactly one of qty, notional or equity_fraction"),
        ({"qty": -1}, "order size must be positive"),
        ({"equity_fraction": 1.5}, "equity_fraction must be at most 1"),
        ({"qty": 1, "order_type": OrderType.LIMIT}, "a limit order needs exactly its own price fields"),
        ({"qty": 1, "order_type": OrderType.LIMIT, "limit_price": -3}, "order prices must be positive"),
    ],
)
def test_invalid_orders_are_refused(kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        Order("X", Side.BUY, **kwargs)
