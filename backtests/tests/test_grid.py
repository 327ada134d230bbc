"""Parameter grids: the same figures as full backtests, invalid combinations named, the best picked."""

from decimal import Decimal

import pytest

from backtests.core.engine import BacktestEngine
from backtests.core.grid import best_of, grid_search, parameter_grid
from backtests.core.results import BacktestConfig
from backtests.tests.test_fastpath import random_bars
from marketdata.core.errors import InvalidInput
from risk.core.manager import PermissiveRiskManager
from strategies.core.config import StrategyConfig
from strategies.core.registry import strategy_build

CONFIG = BacktestConfig(initial_capital=Decimal(10_000), fill_timing="next_open")


def test_parameter_grid_is_the_cartesian_product_in_order():
    assert parameter_grid({"fast": [5, 10], "slow": [20, 40]}) == [
        {"fast": 5, "slow": 20},
        {"fast": 5, "slow": 40},
        {"fast": 10, "slow": 20},
        {"fast": 10, "slow": 40},
    ]
    with pytest.raises(InvalidInput, match="no values for slow"):
        parameter_grid({"fast": [5], "slow": []})


class CheckingRiskManager(PermissiveRiskManager):
    approves_everything = False  # forces the bar-by-bar loop


@pytest.mark.parametrize("engine", [None, BacktestEngine(CheckingRiskManager())], ids=["fast", "loop"])
def test_each_row_has_the_figures_of_a_full_backtest_of_that_combination(engine):
    bars = random_bars(3, 400)
    base = StrategyConfig(strategy="momentum")

    table = grid_search(base, {"fast": [3, 8, 30], "slow": [12, 25]}, bars, CONFIG, engine=engine)

    for row in table.itertuples():
        if row.error:
            continue
        full = (
            BacktestEngine()
            .run(
                strategy_build(
                    StrategyConfig(strategy="momentum", parameters={"fast": row.fast, "slow": row.slow})
                ),
                bars,
                CONFIG,
                fast=False,
            )
            .metrics
        )
        assert (
            row.total_return_pct,
            row.sharpe_ratio,
            row.max_drawdown_pct,
            row.trades,
            row.final_equity,
        ) == (
            full.total_return_pct,
            full.sharpe_ratio,
            full.max_drawdown_pct,
            full.total_trades,
            full.final_equity,
        )
    assert table.loc[table.error.notna(), ["fast", "slow", "error"]].values.tolist() == [
        [30, 12, "strategy 'momentum' parameters: fast (30) must be below slow (12)"],
        [30, 25, "strategy 'momentum' parameters: fast (30) must be below slow (25)"],
    ]


def test_best_of_picks_the_highest_valid_objective():
    bars = random_bars(4, 300)
    table = grid_search(
        StrategyConfig(strategy="momentum"), {"fast": [2, 4, 50], "slow": [10, 20]}, bars, CONFIG
    )

    best = best_of(table, "total_return_pct")

    valid = table[table.error.isna()]
    assert best["total_return_pct"] == valid.total_return_pct.max()
    assert (best["fast"], best["slow"]) in {(2, 10), (2, 20), (4, 10), (4, 20)}
