"""The trading loop on the paper broker, over replayed bars: the same trades, cash and equity as the
backtest of the same bars with the same config."""

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from backtests.core.engine import BacktestEngine, costs_of
from backtests.core.results import BacktestConfig
from execution.core.brokers.base import OrderRequest
from execution.core.brokers.simulated import SimulatedBrokerClient, decimal_of
from execution.core.oms import client_order_id
from execution.core.runner import StrategyRunner
from marketdata.core.bars import Timeframe, bar_frame
from marketdata.core.providers.synthetic import SyntheticProvider
from risk.core.manager import PermissiveRiskManager, PolicyRiskManager
from risk.core.policy import RiskPolicy
from strategies.core.base import SIGNAL_LONG
from strategies.core.builtin import ArraySignalStrategy
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


class _Scripted(ArraySignalStrategy):
    """Long AAA on the first bar; long BBB on bars 5 and 6 (AAA crashes at bar 5)."""

    name = "scripted_for_risk"

    def signal_codes(self, data, config):
        codes = np.zeros(len(data), dtype=np.int8)
        if data.symbol == "AAA":
            codes[:1] = SIGNAL_LONG
        else:
            codes[5:7] = SIGNAL_LONG
        return codes


def test_a_daily_loss_past_the_limit_pauses_entries_until_the_next_session():
    days = pd.date_range("2024-01-02 21:00", periods=8, freq="B", tz="UTC")
    aaa = [100.0] * 5 + [40.0] * 3
    frames = {
        "AAA": bar_frame(days, aaa, aaa, aaa, aaa, [1e6] * 8),
        "BBB": bar_frame(days, [50.0] * 8, [50.0] * 8, [50.0] * 8, [50.0] * 8, [1e6] * 8),
    }
    policy = {"max_risk_per_trade_pct": 2, "daily_loss_limit_pct": 1}
    config = StrategyConfig(
        strategy="scripted_for_risk",
        universe=["AAA", "BBB"],
        sizing=Sizing(mode="notional", value=195, whole_shares=False),
    )
    costs = BacktestConfig(commission_per_trade=Decimal(0), slippage_bps=Decimal(0), risk_policy=policy)
    commission, slippage = costs_of(costs)
    client = SimulatedBrokerClient(cash=10_000.0, commission=commission, slippage=slippage)
    manager = PolicyRiskManager(RiskPolicy.from_data(policy))

    def send(order, signal):
        client.place_order(
            OrderRequest(client_order_id("t", signal), order.symbol, order.side, decimal_of(order.qty))
        )

    runner = StrategyRunner(
        _Scripted(config),
        risk_manager=manager,
        portfolio=client.portfolio,
        history={},
        quote=lambda symbol, order: client.portfolio.price(symbol),
        buying_power=client.portfolio.buying_power,
        commission=commission,
        send=send,
        on_bar_open=client.bar_open,
    )
    reports = []
    for n, ts in enumerate(days):
        bars = {s: PriceBar(s, ts.to_pydatetime(), *frames[s].iloc[n].to_numpy(), -1) for s in frames}
        reports.append(runner.on_bars(bars))

    # AAA's 1.95 shares lose 117 (1.17% of equity) at bar 5: BBB's entry is refused that session only
    assert [len(r.sent) for r in reports] == [1, 0, 0, 0, 0, 0, 1, 0]
    refused = reports[5].refused[0][1]
    assert [reason.code for reason in refused.reasons] == ["daily_loss_limit"]
    assert client.portfolio.position("BBB") == pytest.approx(3.9)


def test_the_strategy_reads_every_bar_so_far_in_read_only_arrays_however_many_arrive():
    bars = SyntheticProvider(seed=7).get_bars(
        "AAA", datetime(2022, 1, 1, tzinfo=UTC), datetime(2022, 12, 31, tzinfo=UTC), Timeframe.D1
    )
    seen = []

    class Recorder(ArraySignalStrategy):
        name = "recorder"

        def signal_codes(self, data, config):
            seen.append(data)
            return np.zeros(len(data), dtype=np.int8)

    commission, slippage = costs_of(BacktestConfig())
    runner = StrategyRunner(
        Recorder(StrategyConfig(strategy="buy_and_hold", name="recorder", universe=["AAA"])),
        risk_manager=PermissiveRiskManager(),
        portfolio=SimulatedBrokerClient(cash=1000.0, commission=commission, slippage=slippage).portfolio,
        history={"AAA": bars.iloc[:3]},
        quote=lambda symbol, order: 0.0,
        buying_power=lambda: 0.0,
        commission=commission,
        send=lambda order, signal: None,
    )
    for ts, row in bars.iloc[3:].iterrows():  # past the arrays' first capacity, and their doublings
        runner.on_bars({"AAA": PriceBar("AAA", ts.to_pydatetime(), *row.to_numpy(), -1)})

    last = seen[-1]
    assert len(bars) > 128
    assert len(last) == len(bars)
    np.testing.assert_array_equal(last.close, bars["close"].to_numpy())
    assert list(last.ts) == list(bars.index)
    assert len(seen[0]) == 4  # the history and the first new bar
    np.testing.assert_array_equal(seen[0].close, bars["close"].to_numpy()[:4])  # unchanged by later bars
    with pytest.raises(ValueError, match="read-only"):
        last.close[0] = 1.0
    with pytest.raises(ValueError, match="not after the last one"):
        runner.on_bars(
            {"AAA": PriceBar("AAA", bars.index[-1].to_pydatetime(), *bars.iloc[-1].to_numpy(), -1)}
        )
