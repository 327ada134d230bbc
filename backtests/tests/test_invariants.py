"""Accounting invariants and the no-lookahead rule, on random data and parameters."""

from decimal import Decimal

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtests.core.engine import BacktestEngine
from backtests.core.results import BacktestConfig
from backtests.tests.test_fastpath import random_bars
from execution.core.costs import CommissionModel, SlippageModel
from execution.core.ledger import TradeLedger
from execution.core.portfolio import Portfolio
from execution.core.simulated import SimulatedBroker
from strategies.core.config import RiskCaps, StrategyConfig
from strategies.core.registry import strategy_build
from strategies.core.types import Order, OrderType, PriceBar, Side

SETTINGS = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@SETTINGS
@given(
    seed=st.integers(0, 5_000),
    orders=st.lists(
        st.tuples(
            st.integers(0, 59),  # bar of the order
            st.sampled_from([Side.BUY, Side.SELL]),
            st.integers(1, 50),  # qty
            st.sampled_from([OrderType.MARKET, OrderType.LIMIT, OrderType.STOP]),
            st.floats(0.9, 1.1),  # limit/stop price as a multiple of the close
        ),
        max_size=25,
    ),
    participation=st.sampled_from([None, 0.001, 0.01]),
    timing=st.sampled_from(["close", "next_open"]),
)
def test_portfolio_accounting_holds_at_every_bar(seed, orders, participation, timing):
    bars = random_bars(seed, 60)
    portfolio = Portfolio(100_000)
    broker = SimulatedBroker(
        portfolio,
        commission=CommissionModel(per_trade=1, per_share=0.01, minimum=1, bps=1),
        slippage=SlippageModel(bps=5, impact_bps=20),
        fill_timing=timing,
        max_participation=participation,
    )
    ledger = TradeLedger()
    fills, by_bar = [], {}
    for bar_no, side, qty, kind, multiple in orders:
        by_bar.setdefault(bar_no, []).append((side, qty, kind, multiple))
    for i, (ts, row) in enumerate(bars.iterrows()):
        bar = PriceBar("X", ts, row.open, row.high, row.low, row.close, row.volume, i)
        portfolio.mark("X", bar.open)
        fills += broker.on_bar_open(bar)
        portfolio.mark("X", bar.close)
        for side, qty, kind, multiple in by_bar.get(i, []):
            price = round(bar.close * multiple, 2)
            extra = (
                {"limit_price": price}
                if kind is OrderType.LIMIT
                else {"stop_price": price}
                if kind is OrderType.STOP
                else {}
            )
            fills += broker.submit(Order("X", side, qty=qty, order_type=kind, **extra), bar)
        fills += broker.on_bar_close(bar)
        position = sum(f.side.sign * f.qty for f in fills)
        cash = 100_000 - sum(f.side.sign * f.qty * f.price + f.commission for f in fills)

        assert abs(portfolio.position("X") - position) < 1e-9
        assert abs(portfolio.cash - cash) < 1e-6
        assert abs(portfolio.equity - (portfolio.cash + position * bar.close)) < 1e-6
    for fill in fills:
        ledger.record(fill)
        assert fill.commission >= 0
        assert fill.slippage >= 0
        assert fill.qty > 0
    assert all(t.commission >= 0 for t in ledger.trades)
    open_qty = sum(q for q, _ in ledger.open_lots("X"))
    assert abs(open_qty - portfolio.position("X")) < 1e-9


@SETTINGS
@given(
    seed=st.integers(0, 5_000),
    cut=st.integers(25, 199),
    strategy=st.sampled_from(["momentum", "mean_reversion"]),
    allow_short=st.booleans(),
    timing=st.sampled_from(["close", "next_open"]),
)
def test_a_run_on_the_first_k_bars_is_the_first_k_bars_of_the_full_run(
    seed, cut, strategy, allow_short, timing
):
    bars = random_bars(seed, 200)
    config = BacktestConfig(initial_capital=Decimal(10_000), fill_timing=timing)
    strategy_config = StrategyConfig(strategy=strategy, risk=RiskCaps(allow_short=allow_short))

    full = BacktestEngine().run(strategy_build(strategy_config), bars, config, fast=False)
    part = BacktestEngine().run(strategy_build(strategy_config), bars.iloc[:cut], config, fast=False)

    assert np.array_equal(part.equity_curve.equity, full.equity_curve.equity[:cut])
    assert part.trades == [t for t in full.trades if t.exit_bar < cut]
