from datetime import date

import pytest

from marketdata.core.errors import InvalidInput
from marketdata.core.options import OptionContract
from strategies.core.options import OptionExposure, OptionLeg, OptionOrder
from strategies.core.types import OrderType, Side

EXPIRY = date(2024, 4, 19)


def leg(strike: int, right: str, side: str, ratio: int = 1) -> OptionLeg:
    return OptionLeg(OptionContract("AAA", EXPIRY, strike, right), Side(side), ratio)


def test_bull_put_spread_loses_at_most_its_width_less_the_credit():
    order = OptionOrder((leg(50, "put", "sell"), leg(45, "put", "buy")), qty=2)
    assert order.max_loss(-1.20) == pytest.approx((5 - 1.20) * 100)
    assert order.value_at_expiry(40) == pytest.approx(-5.0)
    assert order.value_at_expiry(60) == 0.0


def test_iron_condor_loses_the_wider_wing_less_the_credit():
    order = OptionOrder(
        (leg(45, "put", "buy"), leg(50, "put", "sell"), leg(60, "call", "sell"), leg(63, "call", "buy")),
        qty=1,
    )
    assert order.max_loss(-1.50) == pytest.approx((5 - 1.50) * 100)


def test_a_long_option_loses_its_premium_and_a_credit_beyond_the_width_loses_nothing():
    assert OptionOrder((leg(50, "call", "buy"),), qty=1).max_loss(2.35) == pytest.approx(235.0)
    assert OptionOrder((leg(50, "put", "sell"), leg(45, "put", "buy")), qty=1).max_loss(-6.0) == 0.0


def test_more_calls_sold_than_bought_is_unbounded():
    assert OptionOrder((leg(60, "call", "sell"),), qty=1).max_loss(-1.0) is None
    assert OptionOrder((leg(60, "call", "buy"), leg(65, "call", "sell", 2)), qty=1).max_loss(0.5) is None
    # a naked put is bounded: the strike, less the credit
    assert OptionOrder((leg(50, "put", "sell"),), qty=1).max_loss(-2.0) == pytest.approx(4800.0)


@pytest.mark.parametrize(
    ("legs", "kwargs", "message"),
    [
        ((), {}, "1 to 4 legs"),
        ((leg(50, "put", "sell"), leg(50, "put", "buy")), {}, "names a contract twice"),
        (
            (leg(50, "put", "sell"), OptionLeg(OptionContract("B", EXPIRY, 45, "put"), Side.BUY)),
            {},
            "underlying",
        ),
        ((leg(50, "put", "sell"),), {"qty": 0}, "whole number of units above 0"),
        ((leg(50, "put", "sell"),), {"qty": 1.5}, "whole number of units above 0"),
        ((leg(50, "put", "sell"),), {"order_type": OrderType.LIMIT}, "needs a limit price"),
        ((leg(50, "put", "sell"),), {"order_type": OrderType.LIMIT, "limit_price": float("nan")}, "a number"),
        ((leg(50, "put", "sell"),), {"order_type": OrderType.STOP}, "market or limit"),
    ],
)
def test_a_malformed_order_is_refused_with_what_is_wrong(legs, kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        OptionOrder(legs, **{"qty": 1, **kwargs})


def test_a_leg_ratio_must_be_whole_and_positive():
    with pytest.raises(InvalidInput, match="ratio"):
        leg(50, "put", "sell", 0)


def test_exposures_add_up():
    total = OptionExposure(100.0, -20.0, 3.0) + OptionExposure(-40.0, 5.0, 1.0)
    assert total == OptionExposure(60.0, -15.0, 4.0)
