"""The simulated broker fills option orders against chains: at once, as working limits, or not."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from execution.core.costs import CommissionModel, SlippageModel
from execution.core.option_book import OptionBook
from execution.core.option_fills import OptionCommission
from execution.core.portfolio import Portfolio
from execution.core.simulated import SimulatedBroker
from marketdata.core.errors import InvalidInput
from marketdata.core.options import OptionContract
from marketdata.core.providers.option_chains import chain_frame
from strategies.core.option_chain import ChainSnapshot
from strategies.core.options import OptionLeg, OptionOrder
from strategies.core.types import Fill, Order, OrderStatus, OrderType, PriceBar, Side, TimeInForce

DAYS = [datetime(2024, 3, d, tzinfo=UTC) for d in (15, 18, 19)]
EXPIRY = date(2024, 4, 19)


def contract(strike, right) -> OptionContract:
    return OptionContract("AAA", EXPIRY, Decimal(strike), right)


def chain(day=0, put_95=(1.90, 2.00), put_90=(0.80, 0.90), call_105=(2.10, 2.25)) -> ChainSnapshot:
    quotes = {contract(95, "P"): put_95, contract(90, "P"): put_90, contract(105, "C"): call_105}
    symbols = [c.symbol for c in quotes]
    bids, asks = zip(*quotes.values(), strict=True)
    ts = DAYS[day]
    return ChainSnapshot(chain_frame([ts] * 3, symbols, bid=bids, ask=asks), spot=100.0, ts=ts)


def broker(cash=10_000.0, per_contract=0.65) -> SimulatedBroker:
    return SimulatedBroker(
        OptionBook(cash),
        commission=CommissionModel(),
        slippage=SlippageModel(bps=0),
        option_commission=OptionCommission(per_contract),
    )


def put_spread(qty=1, **kw) -> OptionOrder:
    return OptionOrder(
        (OptionLeg(contract(95, "P"), Side.SELL), OptionLeg(contract(90, "P"), Side.BUY)), qty, **kw
    )


def test_a_market_option_order_fills_at_the_touch_into_the_book():
    b = broker()
    order = put_spread(qty=2)

    fill = b.submit_option(order, chain())

    assert (fill.net_price, fill.commission) == (pytest.approx(-1.0), pytest.approx(2.60))
    assert (order.status, order.filled_qty, order.avg_fill_price) == (OrderStatus.FILLED, 2, fill.net_price)
    assert b.portfolio.option_position(contract(95, "P").symbol) == -2
    assert b.portfolio.cash == pytest.approx(10_000 + 200 - 2.60)
    assert b.working_options == []


def test_a_market_order_the_chain_cannot_fill_is_rejected_with_the_reason():
    b = broker()
    order = put_spread()

    assert b.submit_option(order, chain(put_90=(0.0, 0.05))) is None
    assert order.status is OrderStatus.REJECTED
    assert b.rejected == [
        (order, "AAA240419P00090000 has no two-sided quote on 2024-03-15 (bid 0.0, ask 0.05)")
    ]


def test_a_limit_not_reached_works_until_a_chain_reaches_it():
    b = broker()
    order = put_spread(order_type=OrderType.LIMIT, limit_price=-1.20, tif=TimeInForce.GTC)

    assert b.submit_option(order, chain()) is None  # a credit of 1.00 only
    assert (order.status, b.working_options) == (OrderStatus.ACCEPTED, [(order, DAYS[0])])
    assert b.on_chain(chain(1)) == []
    fills = b.on_chain(chain(2, put_95=(2.30, 2.40)))

    assert [round(f.net_price, 2) for f in fills] == [-1.40]  # the touch, better than the limit
    assert (order.status, b.working_options) == (OrderStatus.FILLED, [])


def test_a_day_limit_expires_when_the_next_chain_does_not_fill_it():
    b = broker()
    order = put_spread(order_type=OrderType.LIMIT, limit_price=-1.20)

    b.submit_option(order, chain())
    assert b.on_chain(chain(1)) == []

    assert order.status is OrderStatus.EXPIRED
    assert b.working_options == []


def test_an_order_the_book_cannot_carry_is_rejected_with_the_books_reason():
    b = broker(cash=300.0)
    order = put_spread(qty=2)  # max loss (5 - 1) x 100 x 2 = 800

    assert b.submit_option(order, chain()) is None
    assert order.status is OrderStatus.REJECTED
    assert b.rejected[0][1].startswith("buying power 300.00 cannot carry this order: it needs 802.60")
    naked = OptionOrder((OptionLeg(contract(105, "C"), Side.SELL),), 1)
    b.submit_option(naked, chain())
    assert "uncovered (naked calls" in b.rejected[1][1]


def test_selling_the_shares_under_a_covered_call_is_rejected():
    b = broker(cash=20_000.0, per_contract=0.0)
    bar = PriceBar("AAA", DAYS[0], 100, 100, 100, 100, 1e6, 0)
    b.submit(Order("AAA", Side.BUY, qty=100), bar)
    b.submit_option(OptionOrder((OptionLeg(contract(105, "C"), Side.SELL),), 1), chain())

    sell = Order("AAA", Side.SELL, qty=100)
    assert b.submit(sell, bar) == []
    assert sell.status is OrderStatus.REJECTED
    assert b.rejected[-1][1].startswith("selling 100 shares of AAA would leave 1 short call contract(s)")
    assert b.portfolio.position("AAA") == 100


def test_option_orders_need_an_option_book_and_cancel_with_the_rest():
    plain = SimulatedBroker(Portfolio(1_000.0), commission=CommissionModel(), slippage=SlippageModel())
    with pytest.raises(InvalidInput, match="need a broker whose portfolio is an OptionBook"):
        plain.submit_option(put_spread(), chain())
    b = broker()
    order = put_spread(order_type=OrderType.LIMIT, limit_price=-3.0, tif=TimeInForce.GTC)
    b.submit_option(order, chain())

    assert b.cancel_all() == [order]
    assert (order.status, b.working_options) == (OrderStatus.CANCELED, [])


def test_share_fills_of_a_plain_portfolio_are_as_before():
    b = SimulatedBroker(Portfolio(1_000.0), commission=CommissionModel(), slippage=SlippageModel(bps=0))

    fills = b.submit(Order("AAA", Side.SELL, qty=1), PriceBar("AAA", DAYS[0], 10, 10, 10, 10, 100, 0))

    assert fills == [Fill(fills[0].order_id, "AAA", Side.SELL, 1, 10, 0.0, DAYS[0], 0)]
