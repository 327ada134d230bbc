"""The engine against backtesting.py on the GOOG data it ships: same trades, same equity to the cent."""

from decimal import Decimal
from pathlib import Path

import backtesting
import pandas as pd
import pytest
from backtesting import Backtest
from backtesting import Strategy as ReferenceStrategy
from backtesting.lib import crossover
from backtesting.test import SMA

from backtests.core.engine import BacktestEngine
from backtests.core.results import BacktestConfig
from marketdata.core.bars import Timeframe
from marketdata.core.providers.csv import CSVProvider
from marketdata.core.quality import check_bars
from strategies.core.config import StrategyConfig
from strategies.core.registry import strategy_build

GOOG_CSV = Path(backtesting.__file__).parent / "test" / "GOOG.csv"


class SmaCrossLong(ReferenceStrategy):
    """backtesting.py's SmaCross, long only: buy() all-in on the cross up, close on the cross down."""

    def init(self):
        self.fast = self.I(SMA, self.data.Close, 10)
        self.slow = self.I(SMA, self.data.Close, 20)

    def next(self):
        if crossover(self.fast, self.slow):
            self.buy()
        elif crossover(self.slow, self.fast):
            self.position.close()


@pytest.fixture(scope="module")
def goog() -> pd.DataFrame:
    return check_bars(CSVProvider(GOOG_CSV).read("GOOG", Timeframe.D1)).bars


def ours(goog, fill_timing: str, fast: bool):
    config = StrategyConfig(strategy="momentum", universe=["GOOG"], parameters={"fast": 10, "slow": 20})
    costs = BacktestConfig(
        initial_capital=Decimal(10_000),
        commission_per_trade=Decimal(0),
        slippage_bps=Decimal(0),
        fill_timing=fill_timing,
    )
    return BacktestEngine().run(strategy_build(config), goog, costs, fast=fast)


def reference(trade_on_close: bool):
    frame = pd.read_csv(GOOG_CSV, index_col=0, parse_dates=True)
    return Backtest(
        frame, SmaCrossLong, cash=10_000, commission=0, trade_on_close=trade_on_close, finalize_trades=False
    ).run()


@pytest.mark.filterwarnings("ignore:Some trades remain open")
@pytest.mark.parametrize("fast", [False, True], ids=["event", "fast"])
@pytest.mark.parametrize(
    ("fill_timing", "trade_on_close", "final_equity"),
    [("next_open", False, 75_645.99), ("close", True, 71_924.92)],
)
def test_momentum_on_goog_matches_backtesting_py(goog, fast, fill_timing, trade_on_close, final_equity):
    expected = reference(trade_on_close)

    result = ours(goog, fill_timing, fast)

    assert len(result.trades) == expected["# Trades"] == 46
    assert [
        (t.entry_time.date(), t.exit_time.date(), t.entry_price, t.exit_price, t.quantity)
        for t in result.trades
    ] == [
        (r.EntryTime.date(), r.ExitTime.date(), r.EntryPrice, r.ExitPrice, float(r.Size))
        for r in expected._trades.itertuples()
    ]
    assert round(result.equity_curve.equity[-1], 2) == round(expected["Equity Final [$]"], 2) == final_equity
    assert [round(t.pnl, 2) for t in result.trades] == [round(p, 2) for p in expected._trades.PnL]
