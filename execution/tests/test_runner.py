"""The trading loop on the paper broker, over replayed bars: the same trades, cash and equity as the
backtest of the same bars with the same config."""

from datetime import UTC, datetime

import numpy as np
import pytest

from backtests.core.engine import BacktestEngine, costs_of
from backtests.core.results import BacktestConfig
from execution.core.brokers.base import OrderRequest
from execution.core.brokers.simulated import SimulatedBrokerClient, decimal_of
from execution.core.oms import client_order_id
from execution.core.runner import StrategyRunner
from marketdata.core.bars import Timeframe
from marketdata.core.providers.synthetic import SyntheticProvider
from risk.core.manager import PermissiveRiskManager
from strategies.core.config import Sizing, StrategyConfig
from strategies.core.registry import strategy_build
from strategies.core.types import PriceBar

START = datetime(2023, 1, 2, tzinfo=UTC)


def replay(config: StrategyConfig, backtest: BacktestConfig, bars, trade_start):
    """A paper session: the bars before trade_start are history, the rest arrive one by one."""
    commission, slippage = costs_of(backtest)
    client = SimulatedBrokerClient(
        cash=float(backtest.initial_capital),
        commission=commission,
        slippage=slippage,
        fill_timing=backtest.fill_timing,
    )
    fills = []
    client.stream_updates(lambda update: fills.append(update) if update.fill_qty else None)
    strategy = strategy_build(config)

    def send(order, signal):
        request = OrderRequest(
            client_order_id("paper-test", signal), order.symbol, order.side, decimal_of(order.qty)
        )
        client.place_order(request)

    def quote(symbol, order):
        return client.broker.slippage.fill_price(client.portfolio.price(symbol), order.side.sign)

    history = bars.loc[:trade_start].iloc[:-1]
    runner = StrategyRunner(
        strategy,
        risk_manager=PermissiveRiskManager(),
        portfolio=client.portfolio,
        history={"AAA": history},
        quote=quote,
        buying_power=client.portfolio.buying_power,
        commission=commission,
        send=send,
        trade_start=trade_start,
        on_bar_open=client.bar_open,
        on_bar_close=client.bar_close,
        on_session_end=client.session_end,
    )
    equity = []
    for ts, row in bars.loc[trade_start:].iterrows():
        runner.on_bars({"AAA": PriceBar("AAA", ts.to_pydatetime(), *row.to_numpy(), -1)})
        equity.append(client.portfolio.equity)
    return client, fills, np.array(equity)


@pytest.mark.parametrize(
    "sizing",
    [Sizing(), Sizing(mode="fixed_fractional", value=0.3), Sizing(mode="notional", value=2500)],
    ids=["all-in", "fixed-fractional", "notional"],
)
def test_a_paper_session_on_replayed_bars_equals_the_backtest_of_those_bars(sizing):
    bars = SyntheticProvider(seed=7).get_bars(
        "AAA", datetime(2022, 1, 1, tzinfo=UTC), datetime(2024, 6, 30, tzinfo=UTC), Timeframe.D1
    )
    config = StrategyConfig(
        strategy="momentum", universe=["AAA"], parameters={"fast": 5, "slow": 20}, sizing=sizing
    )
    backtest = BacktestConfig(trade_start=START)

    expected = BacktestEngine().run(strategy_build(config), {"AAA": bars}, backtest, fast=False)
    client, fills, equity = replay(config, backtest, bars, START)

    trades = expected.trades
    assert len(trades) > 5
    entries_and_exits = sorted(
        [(t.entry_time, t.quantity, t.entry_price) for t in trades]
        + [(t.exit_time, t.quantity, t.exit_price) for t in trades]
    )
    paper = sorted((f.ts, float(f.fill_qty), float(f.fill_price)) for f in fills)
    assert paper[: len(entries_and_exits)] == entries_and_exits
    # a position still open at the end: its entry, without an exit (not a round trip yet)
    assert len(paper) - len(entries_and_exits) == (1 if client.portfolio.position("AAA") else 0)
    np.testing.assert_allclose(equity, expected.equity_curve.equity, rtol=1e-12)
    assert client.portfolio.cash == pytest.approx(float(expected.equity_curve.cash[-1]), rel=1e-12)
