import numpy as np
import pytest

from risk.core.breaker import CircuitBreaker
from risk.core.policy import RiskPolicy
from risk.core.state import TradingState, order_shrinks_position, shrinks_position, strictest
from strategies.core.types import Order, Side

BREAKER = CircuitBreaker(max_drawdown_pct=6.5, daily_loss_limit_pct=2.0)


def test_a_drawdown_exactly_at_the_limit_does_not_trip_the_kill_switch():
    assert BREAKER.check_drawdown([100_000.0, 110_000.0, 102_850.0, 105_000.0]) is False  # 7,150 = 6.5%


def test_a_drawdown_beyond_the_limit_anywhere_on_the_curve_trips_it():
    # given a curve that fell 6.5% and a cent from its running peak, then recovered
    curve = np.array([100_000.0, 110_000.0, 102_849.99, 120_000.0])

    # then the kill switch is active (it latches: the recovery does not undo it)
    assert BREAKER.check_drawdown(curve) is True


@pytest.mark.parametrize(
    ("curve", "active"),
    [([], False), ([100.0], False), ([100.0, float("nan")], True), ([0.0, 0.0], True), ([-5.0], True)],
)
def test_check_drawdown_edges(curve, active):
    assert BREAKER.check_drawdown(curve) is active


def test_the_daily_loss_check_trips_only_beyond_the_limit():
    assert BREAKER.check_daily_loss(100_000.0, 98_000.0) is False  # 2,000 = 2%
    assert BREAKER.check_daily_loss(100_000.0, 97_999.99) is True
    assert BREAKER.check_daily_loss(100_000.0, 130_000.0) is False


def test_the_breaker_of_a_policy_takes_its_resolved_limits():
    breaker = CircuitBreaker.from_policy(RiskPolicy(level=1))

    assert (breaker.max_drawdown_pct, breaker.daily_loss_limit_pct) == (5.0, 1.0)


def test_the_strictest_state_wins():
    assert strictest() is TradingState.ACTIVE
    assert strictest(TradingState.ACTIVE, TradingState.REDUCING) is TradingState.REDUCING
    assert strictest(TradingState.HALTED, TradingState.REDUCING) is TradingState.HALTED
    assert TradingState.REDUCING.stricter(TradingState.ACTIVE) is TradingState.REDUCING


@pytest.mark.parametrize(
    ("state", "shrinks", "allowed"),
    [
        (TradingState.ACTIVE, False, True),
        (TradingState.ACTIVE, True, True),
        (TradingState.REDUCING, False, False),
        (TradingState.REDUCING, True, True),
        (TradingState.HALTED, False, False),
        (TradingState.HALTED, True, False),
    ],
)
def test_what_each_state_allows(state, shrinks, allowed):
    assert state.allows(shrinks=shrinks) is allowed


@pytest.mark.parametrize(
    ("side", "qty", "held", "shrinks"),
    [
        (Side.SELL, 100, 100, True),  # a full close
        (Side.SELL, 40, 100, True),
        (Side.SELL, 101, 100, False),  # a flip opens a short
        (Side.BUY, 10, 100, False),
        (Side.BUY, 100, -100, True),
        (Side.BUY, 100.5, -100, False),
        (Side.SELL, 1, 0, False),
        (Side.BUY, 1, 0, False),
    ],
)
def test_whether_an_order_shrinks_the_position_held(side, qty, held, shrinks):
    assert shrinks_position(side, qty, held) is shrinks
    assert order_shrinks_position(Order("AAA", side, qty=qty), held) is shrinks


def test_an_order_sized_in_money_shrinks_only_by_its_estimated_quantity():
    order = Order("AAA", Side.SELL, notional=5_000.0)

    assert order_shrinks_position(order, 100) is False
    assert order_shrinks_position(order, 100, qty=50) is True
