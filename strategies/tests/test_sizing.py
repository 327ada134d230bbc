"""How signals become orders: direction rules, the sizing modes and the strategy's own caps."""

from dataclasses import dataclass

import pytest

from strategies.core.config import RiskCaps, Sizing, StrategyConfig
from strategies.core.registry import strategy_build
from strategies.core.types import Side, Signal


@dataclass
class Book:
    cash: float = 10_000.0
    equity: float = 10_000.0
    held: float = 0.0
    last: float = 50.0

    def position(self, symbol):
        return self.held

    def price(self, symbol):
        return self.last


def orders(signal, book=None, **config):
    strategy = strategy_build(StrategyConfig(strategy="buy_and_hold", **config))
    strategy.bar_index = {"X": 0}
    strategy._atr = {"X": [2.5]}
    return [
        (o.side, o.qty, o.notional, o.equity_fraction, o.reduce_only)
        for o in strategy.risk_check([signal], book or Book())
    ]


def test_long_signal_when_flat_opens_with_the_default_all_in_fraction():
    assert orders(Signal.enter_long("X")) == [(Side.BUY, None, None, 1.0, False)]


def test_long_signal_when_short_covers_then_opens():
    assert orders(Signal.enter_long("X"), Book(held=-20)) == [
        (Side.BUY, 20, None, None, True),
        (Side.BUY, None, None, 1.0, False),
    ]


def test_a_signal_for_the_position_already_held_does_nothing():
    assert orders(Signal.enter_long("X"), Book(held=5)) == []


def test_short_signals_only_close_unless_shorting_is_allowed():
    assert orders(Signal.enter_short("X"), Book(held=7)) == [(Side.SELL, 7, None, None, True)]
    assert orders(Signal.enter_short("X"), Book(held=7), risk=RiskCaps(allow_short=True)) == [
        (Side.SELL, 7, None, None, True),
        (Side.SELL, None, None, 1.0, False),
    ]


def test_flat_signal_closes_and_does_nothing_when_flat():
    assert orders(Signal.exit("X"), Book(held=3)) == [(Side.SELL, 3, None, None, True)]
    assert orders(Signal.exit("X")) == []


@pytest.mark.parametrize(
    ("sizing", "expected"),
    [
        (Sizing(mode="qty", value=12.7), (Side.BUY, 12, None, None, False)),
        (Sizing(mode="qty", value=12.7, whole_shares=False), (Side.BUY, 12.7, None, None, False)),
        (Sizing(mode="notional", value=2_500), (Side.BUY, None, 2_500, None, False)),
        (Sizing(mode="fixed_fractional", value=0.2), (Side.BUY, None, 2_000, None, False)),
        # risk 1% of 10,000 = 100 with a stop 2 x ATR 2.5 = 5 away -> 20 shares
        (Sizing(mode="atr_risk", value=0.01), (Side.BUY, 20, None, None, False)),
    ],
)
def test_sizing_modes(sizing, expected):
    assert orders(Signal.enter_long("X"), sizing=sizing) == [expected]


def test_the_position_cap_limits_every_sizing_mode():
    capped = RiskCaps(max_position_pct=10)  # 1,000 of 10,000 equity

    assert orders(Signal.enter_long("X"), risk=capped) == [(Side.BUY, None, 1_000, None, False)]
    assert orders(Signal.enter_long("X"), sizing=Sizing(mode="qty", value=500), risk=capped) == [
        (Side.BUY, 20, None, None, False)
    ]
