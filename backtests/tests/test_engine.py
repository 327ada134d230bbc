"""The engine's loop: several symbols, the seed's call order, sessions, rejections, bad input."""

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from backtests.core.engine import BacktestEngine
from backtests.core.results import BacktestConfig
from marketdata.core.bars import BarArrays, Timeframe, bar_frame
from marketdata.core.errors import InvalidInput
from risk.core.manager import Decision, Reason, RiskManager
from strategies.core.base import Strategy
from strategies.core.config import Sizing, StrategyConfig
from strategies.core.registry import strategy_build
from strategies.core.types import Signal


def bars(days, closes):
    ts = [datetime(2024, 1, d, tzinfo=UTC) for d in days]
    return bar_frame(
        ts, closes, [c + 1 for c in closes], [c - 1 for c in closes], closes, [1_000] * len(closes)
    )


class Recorder(Strategy):
    """Buys every symbol on its first bar and writes down every call the engine makes."""

    name = "recorder"

    def initialize(self, config):
        self.calls = []

    def on_market_data(self, bar):
        self.calls.append(("bar", bar.symbol, bar.ts.day, bar.index))

    def generate_signals(self, state):
        self.calls.append(("signals", state.bar_index))
        return [Signal.enter_long(s) for s, i in self.bar_index.items() if i == 0 and s in self.fresh()]

    def fresh(self):
        seen = {c[1] for c in self.calls if c[0] == "fill"}
        return [s for s in self.bar_index if s not in seen]

    def on_fill(self, fill):
        self.calls.append(("fill", fill.symbol, fill.qty))

    def daily_close(self):
        self.calls.append(("close",))


def test_several_symbols_share_one_timeline_and_one_signal_call_per_timestamp():
    strategy = Recorder(StrategyConfig(strategy="recorder"))
    data = {"AAA": bars([2, 3, 4], [10, 11, 12]), "BBB": bars([3, 4], [20, 22])}
    config = BacktestConfig(
        initial_capital=Decimal(1_000), commission_per_trade=Decimal(0), slippage_bps=Decimal(0)
    )

    result = BacktestEngine().run(strategy, data, config, fast=False)

    assert strategy.calls == [
        ("bar", "AAA", 2, 0),
        ("signals", 0),
        ("fill", "AAA", 100.0),
        ("close",),
        ("bar", "AAA", 3, 1),
        ("bar", "BBB", 3, 0),
        ("signals", 1),
        ("close",),
        ("bar", "AAA", 4, 2),
        ("bar", "BBB", 4, 1),
        ("signals", 2),
        ("close",),
    ]
    assert list(result.equity_curve.equity) == [1_000, 1_100, 1_200]
    # Equal halves of the capital, each bought at its first close (BBB waits as cash until it trades).
    assert list(result.benchmark_curve) == [1_000, 1_050, 1_150]


def test_intraday_sessions_end_with_daily_close():
    strategy = Recorder(StrategyConfig(strategy="recorder", timeframe="5m"))
    ts = pd.to_datetime(["2024-01-02 14:30", "2024-01-02 14:35", "2024-01-03 14:30"], utc=True)
    data = bar_frame(ts, [10, 10, 10], [11, 11, 11], [9, 9, 9], [10, 10, 10], [5, 5, 5])

    BacktestEngine().run(strategy, data, BacktestConfig(timeframe=Timeframe.M5), fast=False)

    assert [c for c in strategy.calls if c[0] in {"signals", "close"}] == [
        ("signals", 0),
        ("signals", 1),
        ("close",),
        ("signals", 2),
        ("close",),
    ]


class Clock(Strategy):
    """Reads the time of every step and buys each symbol at its first bar."""

    name = "clock"

    def initialize(self, config):
        self.times = []

    def generate_signals(self, state):
        self.times.append(state.ts)
        held = state.portfolio.position
        return [Signal.enter_long(s) for s, i in self.bar_index.items() if i == 0 and held(s) == 0]


def test_cash_equity_and_exposure_of_every_step_with_a_symbol_missing_a_bar():
    """Ten AAA at 10 and ten BBB at 20 on the 2nd; BBB has no bar on the 3rd (it stays at its last
    close, 20) and closes at 24 on the 4th."""
    strategy = Clock(StrategyConfig(strategy="clock", sizing=Sizing(mode="qty", value=10)))
    data = {"AAA": bars([2, 3, 4], [10, 11, 12]), "BBB": bars([2, 4], [20, 24])}
    config = BacktestConfig(
        initial_capital=Decimal(1_000), commission_per_trade=Decimal(0), slippage_bps=Decimal(0)
    )
    result = BacktestEngine().run(strategy, data, config, fast=False)

    curve = result.equity_curve
    assert strategy.times == [datetime(2024, 1, d, tzinfo=UTC) for d in (2, 3, 4)]
    assert list(curve.cash) == [700, 700, 700]
    assert list(curve.equity) == [1_000, 1_010, 1_060]
    assert list(curve.exposure) == [300 / 1_000, 310 / 1_010, 360 / 1_060]


class Refuser(RiskManager):
    def check_order(self, order, portfolio):
        return Decision(False, [Reason("max_notional", "order notional above the limit")])


def test_orders_the_risk_manager_refuses_are_rejected_and_never_filled():
    strategy = strategy_build(StrategyConfig(strategy="buy_and_hold"))
    config = BacktestConfig(initial_capital=Decimal(1_000))

    result = BacktestEngine(risk_manager=Refuser()).run(strategy, bars([2, 3], [10, 11]), config)

    assert result.metadata["path"] == "event"
    assert list(result.equity_curve.equity) == [1_000, 1_000]
    assert result.trades == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "no data to backtest"),
        ({"X": bars([2], [10]).drop(columns="volume")}, "X: bars lack column\\(s\\) volume"),
        ({"X": bars([2, 3], [10, float("nan")])}, "X: bars contain NaN"),
        ({"X": bars([2], [10]).tz_localize(None)}, "X: bars need a UTC DatetimeIndex"),
    ],
)
def test_bad_data_is_refused_with_a_clear_message(data, message):
    with pytest.raises(InvalidInput, match=message):
        BacktestEngine().run(strategy_build(StrategyConfig(strategy="buy_and_hold")), data, BacktestConfig())


def test_a_date_range_with_no_bars_is_refused():
    config = BacktestConfig(start_date=datetime(2030, 1, 1, tzinfo=UTC))

    with pytest.raises(InvalidInput, match="X: no bars in the backtest's date range"):
        BacktestEngine().run(
            strategy_build(StrategyConfig(strategy="buy_and_hold")), {"X": bars([2], [10])}, config
        )


def v_shaped(n_down=30, n_up=30):
    """Closes falling by 1 a day from 100, then rising by 2.5: SMA(3) crosses above SMA(6) once."""
    closes = [100.0 - i for i in range(n_down)] + [72.5 + 2.5 * i for i in range(n_up)]
    ts = pd.date_range("2024-01-01", periods=len(closes), freq="D", tz="UTC")
    return bar_frame(
        ts, closes, [c + 1 for c in closes], [c - 1 for c in closes], closes, [1e6] * len(closes)
    )


@pytest.mark.parametrize("fast", [False, True])
def test_bars_before_trade_start_warm_the_strategy_up_and_are_not_traded(fast):
    data = v_shaped()
    strategy_config = StrategyConfig(strategy="momentum", parameters={"fast": 3, "slow": 6})
    codes = strategy_build(strategy_config).signal_codes(BarArrays.from_frame("X", data), strategy_config)
    crossing = int(np.flatnonzero(codes)[0])
    start = data.index[crossing - 1]  # two bars before the cross: too few for SMA(6) without warm-up
    costs = {"commission_per_trade": Decimal(0), "slippage_bps": Decimal(0), "fill_timing": "next_open"}

    warm = BacktestEngine().run(
        strategy_build(strategy_config), data, BacktestConfig(trade_start=start, **costs), fast=fast
    )
    cold = BacktestEngine().run(
        strategy_build(strategy_config), data, BacktestConfig(start_date=start, **costs), fast=fast
    )

    assert warm.equity_curve.ts[0] == start
    assert len(warm.equity_curve) == len(data) - crossing + 1
    assert [t.entry_time for t in warm.trades] == []  # the long is still open at the end
    assert warm.equity_curve.equity[0] == 10_000
    assert warm.equity_curve.exposure[-1] > 0.99  # bought on the bar after the cross, held since
    assert cold.equity_curve.exposure.max() == 0.0  # without warm-up SMA(6) never sees the cross
    assert warm.benchmark_curve.index[0] == start
    assert warm.prices["ASSET"].index[0] == start


def test_a_trade_start_after_the_last_bar_is_refused():
    config = BacktestConfig(trade_start=datetime(2030, 1, 1, tzinfo=UTC))

    with pytest.raises(InvalidInput, match="no bars at or after trade_start 2030-01-01"):
        BacktestEngine().run(
            strategy_build(StrategyConfig(strategy="buy_and_hold")), {"X": bars([2], [10])}, config
        )


@pytest.mark.parametrize("fast", [False, True])
def test_measuring_several_strategies_gives_each_one_what_its_run_gives(fast):
    # Given three momentum strategies over the same bars, traded from the fifth bar on
    data = v_shaped(n_down=12, n_up=12)
    configs = [StrategyConfig(strategy="momentum", parameters={"fast": f, "slow": 6}) for f in (2, 3, 4)]
    config = BacktestConfig(trade_start=data.index[4])
    engine = BacktestEngine()

    # When they are measured together
    measured = engine.measure([strategy_build(c) for c in configs], data, config, fast=fast)

    # Then each has the metrics and the equity of its own full run
    assert len(measured) == 3
    for strategy_config, measurement in zip(configs, measured, strict=True):
        result = engine.run(strategy_build(strategy_config), data, config, fast=fast)
        assert measurement.metrics == result.metrics
        np.testing.assert_array_equal(measurement.equity, result.equity_curve.equity)
    assert measured[0].metrics != measured[2].metrics  # the sets differ, and so do their figures
    assert engine.measure([], data, config) == []
