"""Option orders fill as one at the net of their legs at the touch, with a commission per contract."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from execution.core.option_fills import NoFill, OptionCommission, fill_option_order
from marketdata.core.errors import InvalidInput
from marketdata.core.options import OptionContract
from marketdata.core.providers.option_chains import chain_frame
from strategies.core.option_chain import ChainSnapshot
from strategies.core.options import OptionFill, OptionLeg, OptionOrder
from strategies.core.types import OrderType, Side

DAY = datetime(2024, 3, 15, tzinfo=UTC)
EXPIRY = date(2024, 4, 19)
# strike, right: (bid, ask)
QUOTES = {
    (90, "P"): (0.80, 0.90),
    (95, "P"): (1.90, 2.00),
    (105, "C"): (2.10, 2.25),
    (110, "C"): (0.95, 1.05),
    (120, "C"): (0.0, 0.05),  # no bid: one-sided
}


def contract(strike, right) -> OptionContract:
    return OptionContract("AAA", EXPIRY, Decimal(strike), right)


def chain(quotes=QUOTES, spot=100.0) -> ChainSnapshot:
    symbols = [contract(k, r).symbol for k, r in quotes]
    bids, asks = zip(*quotes.values(), strict=True)
    return ChainSnapshot(chain_frame([DAY] * len(symbols), symbols, bid=bids, ask=asks), spot=spot, ts=DAY)


def leg(strike, right, side, ratio=1) -> OptionLeg:
    return OptionLeg(contract(strike, right), side, ratio)


def iron_condor(qty=1, **kw) -> OptionOrder:
    return OptionOrder(
        (
            leg(90, "P", Side.BUY),
            leg(95, "P", Side.SELL),
            leg(105, "C", Side.SELL),
            leg(110, "C", Side.BUY),
        ),
        qty,
        **kw,
    )


def test_an_iron_condor_fills_as_one_at_the_touch_net_with_commission_on_every_contract():
    order = iron_condor(qty=3)

    fill = fill_option_order(order, chain(), OptionCommission(per_contract=0.65))

    # bought at the ask, sold at the bid: 0.90 - 1.90 - 2.10 + 1.05 = -2.05, a credit
    assert fill == OptionFill(
        order.id, "AAA", 3, pytest.approx(-2.05), (0.90, 1.90, 2.10, 1.05), pytest.approx(7.80), DAY
    )


def test_a_debit_vertical_pays_the_ask_of_the_long_leg_and_gets_the_bid_of_the_short():
    order = OptionOrder((leg(105, "C", Side.BUY), leg(110, "C", Side.SELL, ratio=2)), 1)

    fill = fill_option_order(order, chain(), OptionCommission(per_contract=1.0))

    assert (fill.net_price, fill.leg_prices, fill.commission) == (
        pytest.approx(2.25 - 2 * 0.95),
        (2.25, 0.95),
        3.0,
    )


def test_a_debit_limit_fills_at_or_below_its_limit_at_the_natural_net():
    def debit(limit):
        order = OptionOrder(
            (leg(105, "C", Side.BUY), leg(110, "C", Side.SELL)),
            1,
            order_type=OrderType.LIMIT,
            limit_price=limit,
        )
        return fill_option_order(order, chain(), OptionCommission())

    # the touch: 2.25 - 0.95 = 1.30
    assert debit(1.30).net_price == pytest.approx(1.30)
    assert debit(1.50).net_price == pytest.approx(1.30)  # the natural net, not the limit
    assert debit(1.29) == NoFill(
        "the net price at the touch on 2024-03-15, 1.3000, is worse than the limit 1.2900"
    )


def test_a_credit_limit_fills_only_when_it_receives_at_least_the_limit():
    def credit(limit):
        return fill_option_order(
            iron_condor(order_type=OrderType.LIMIT, limit_price=limit), chain(), OptionCommission()
        )

    # the touch: a credit of 2.05 (net -2.05)
    assert credit(-2.05).net_price == pytest.approx(-2.05)
    assert credit(-1.50).net_price == pytest.approx(-2.05)  # asks for less than it gets
    refused = credit(-2.10)  # asks for more credit than the touch gives
    assert refused == NoFill(
        "the net price at the touch on 2024-03-15, -2.0500, is worse than the limit -2.1000"
    )


def test_a_leg_without_a_two_sided_quote_or_not_listed_gives_no_fill_with_the_reason():
    one_sided = OptionOrder((leg(110, "C", Side.BUY), leg(120, "C", Side.SELL)), 1)
    unlisted = OptionOrder((leg(100, "C", Side.BUY),), 1)

    assert fill_option_order(one_sided, chain(), OptionCommission()) == NoFill(
        "AAA240419C00120000 has no two-sided quote on 2024-03-15 (bid 0.0, ask 0.05)"
    )
    assert fill_option_order(unlisted, chain(), OptionCommission()) == NoFill(
        "AAA240419C00100000 is not quoted in the chain of 2024-03-15"
    )


def test_only_the_remaining_units_fill_and_the_order_is_left_to_its_broker():
    order = iron_condor(qty=5)
    order.filled_qty = 2

    fill = fill_option_order(order, chain(), OptionCommission(per_contract=0.5))

    assert (fill.qty, fill.commission) == (3, 6.0)
    assert (order.filled_qty, order.status.value) == (2, "new")


def test_bad_input_is_refused_with_a_reason():
    other = OptionOrder((OptionLeg(OptionContract("BBB", EXPIRY, Decimal(100), "C"), Side.BUY),), 1)
    with pytest.raises(InvalidInput, match="an order on BBB cannot fill against the chain of AAA"):
        fill_option_order(other, chain(), OptionCommission())
    with pytest.raises(InvalidInput, match="cannot be negative"):
        OptionCommission(per_contract=-0.1)
