"""The compiled kernel and the bar-by-bar loop give the same trades and equity."""

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtests.core.engine import BacktestEngine
from backtests.core.results import BacktestConfig
from marketdata.core.bars import bar_frame
from marketdata.core.errors import InvalidInput
from strategies.core.config import RiskCaps, Sizing, StrategyConfig
from strategies.core.registry import strategy_build


def random_bars(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = np.round(50 * np.exp(np.cumsum(rng.normal(0, 0.02, n))), 2)
    open_ = np.round(close * np.exp(rng.normal(0, 0.01, n)), 2)
    high = np.maximum(open_, close) + np.round(rng.uniform(0, 1, n), 2)
    low = np.maximum(np.minimum(open_, close) - np.round(rng.uniform(0, 1, n), 2), 0.01)
    ts = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")
    return bar_frame(ts, open_, high, low, close, rng.integers(1_000, 100_000, n))


def both_paths(strategy_config: StrategyConfig, bars: pd.DataFrame, config: BacktestConfig):
    event = BacktestEngine().run(strategy_build(strategy_config), bars, config, fast=False)
    fast = BacktestEngine().run(strategy_build(strategy_config), bars, config, fast=True)
    return event, fast


sizings = st.one_of(
    st.builds(Sizing, mode=st.just("equity_fraction"), value=st.floats(0.1, 1.0), whole_shares=st.booleans()),
    st.builds(Sizing, mode=st.just("notional"), value=st.floats(100, 20_000), whole_shares=st.booleans()),
    st.builds(
        Sizing, mode=st.just("fixed_fractional"), value=st.floats(0.05, 1.0), whole_shares=st.booleans()
    ),
    st.builds(Sizing, mode=st.just("qty"), value=st.floats(1, 300), whole_shares=st.booleans()),
)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(30, 400),
    strategy=st.sampled_from(["momentum", "mean_reversion", "buy_and_hold"]),
    fast=st.integers(2, 15),
    slow_gap=st.integers(1, 30),
    allow_short=st.booleans(),
    sizing=sizings,
    fill_timing=st.sampled_from(["close", "next_open"]),
    per_trade=st.sampled_from(["0", "1"]),
    per_share=st.sampled_from(["0", "0.005"]),
    minimum=st.sampled_from(["0", "1"]),
    bps=st.sampled_from(["0", "2.5"]),
    slippage=st.sampled_from(["0", "10"]),
)
def test_fast_path_equals_event_path(
    seed,
    n,
    strategy,
    fast,
    slow_gap,
    allow_short,
    sizing,
    fill_timing,
    per_trade,
    per_share,
    minimum,
    bps,
    slippage,
):
    parameters = {"momentum": {"fast": fast, "slow": fast + slow_gap}, "mean_reversion": {"period": fast + 1}}
    strategy_config = StrategyConfig(
        strategy=strategy,
        universe=["X"],
        parameters=parameters.get(strategy, {}),
        sizing=sizing,
        risk=RiskCaps(allow_short=allow_short),
    )
    config = BacktestConfig(
        initial_capital=Decimal(10_000),
        commission_per_trade=Decimal(per_trade),
        commission_per_share=Decimal(per_share),
        commission_minimum=Decimal(minimum),
        commission_bps=Decimal(bps),
        slippage_bps=Decimal(slippage),
        fill_timing=fill_timing,
    )

    event, fast_result = both_paths(strategy_config, random_bars(seed, n), config)

    assert fast_result.trades == event.trades
    assert np.array_equal(fast_result.equity_curve.equity, event.equity_curve.equity)
    assert np.array_equal(fast_result.equity_curve.cash, event.equity_curve.cash)
    assert fast_result.metrics == event.metrics
    assert (event.metadata["path"], fast_result.metadata["path"]) == ("event", "fast")


def test_a_parameter_grid_runs_on_the_fast_path():
    bars = random_bars(1, 500)
    config = BacktestConfig(initial_capital=Decimal(10_000))

    results = {
        (f, s): BacktestEngine().run(
            strategy_build(StrategyConfig(strategy="momentum", parameters={"fast": f, "slow": s})),
            bars,
            config,
        )
        for f in (5, 10)
        for s in (20, 40)
    }

    assert {r.metadata["path"] for r in results.values()} == {"fast"}
    assert len({round(r.metrics.total_return, 6) for r in results.values()}) == 4


def test_fast_path_refuses_what_it_cannot_do_and_says_why():
    strategy = strategy_build(StrategyConfig(strategy="momentum", sizing=Sizing(mode="atr_risk", value=0.01)))
    config = BacktestConfig()

    with pytest.raises(InvalidInput, match="ATR sizing and position caps need the bar-by-bar loop"):
        BacktestEngine().run(strategy, random_bars(2, 100), config, fast=True)
    capped = BacktestConfig(max_participation=0.1)
    with pytest.raises(InvalidInput, match="volume caps and impact need the bar-by-bar loop"):
        BacktestEngine().run(
            strategy_build(StrategyConfig(strategy="momentum")), random_bars(2, 100), capped, fast=True
        )
