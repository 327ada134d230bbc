"""Parameter grids: one backtest per combination, on the compiled fast path when the strategy has one.

The bars are validated and turned into arrays once and shared by every combination; each one then
costs its indicators, its signals and a kernel run, and gets the headline figures computed as
compute_metrics computes them. A strategy without a fast path runs through the full engine.
"""

import itertools
from collections.abc import Mapping, Sequence

import pandas as pd

from backtests.core.engine import BacktestEngine, prepare_bars
from backtests.core.fastpath import kernel_run
from backtests.core.metrics import bar_returns, drawdowns, periods_per_year, risk_ratios
from backtests.core.results import BacktestConfig
from marketdata.core.errors import ApplicationError, InvalidInput
from strategies.core.config import StrategyConfig
from strategies.core.registry import strategy_build

COLUMNS = ("total_return_pct", "sharpe_ratio", "max_drawdown_pct", "trades", "final_equity")


def parameter_grid(grid: Mapping[str, Sequence]) -> list[dict]:
    """Every combination of the grid's values, in order (the last parameter varies fastest)."""
    if not grid:
        raise InvalidInput("an empty parameter grid")
    empty = [name for name, values in grid.items() if not len(values)]
    if empty:
        raise InvalidInput(f"no values for {', '.join(empty)}")
    names = list(grid)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grid.values())]


def grid_search(
    strategy_config: StrategyConfig,
    grid: Mapping[str, Sequence],
    data: pd.DataFrame | Mapping[str, pd.DataFrame],
    config: BacktestConfig,
    *,
    engine: BacktestEngine | None = None,
) -> pd.DataFrame:
    """One row per combination: its parameters, then total_return_pct, sharpe_ratio,
    max_drawdown_pct, trades and final_equity, or the reason the combination is invalid (error)."""
    engine = engine or BacktestEngine()
    combos = parameter_grid(grid)
    first = strategy_build(strategy_config)
    arrays = prepare_bars(data, first, config)
    first.bind_arrays(arrays)
    fast = engine.fast_path_blocker(first, config) is None
    initial, ppy = float(config.initial_capital), periods_per_year(config.timeframe)
    rows = []
    for combo in combos:
        row: dict = dict(combo)
        try:
            strategy = strategy_build(
                strategy_config.model_copy(update={"parameters": {**strategy_config.parameters, **combo}})
            )
        except ApplicationError as exc:
            rows.append({**row, **dict.fromkeys(COLUMNS), "error": exc.message})
            continue
        if fast:
            strategy.bind_arrays(arrays)
            equity, _, _, fill_bars, *_ = kernel_run(strategy, config)
            trades = len(fill_bars) // 2
        else:
            result = engine.run(strategy, arrays, config, fast=False)
            equity, trades = result.equity_curve.equity, len(result.trades)
        final = float(equity[-1])
        sharpe = risk_ratios(bar_returns(equity, initial), config.risk_free_rate / ppy, ppy)[1]
        rows.append(
            {
                **row,
                "total_return_pct": (final - initial) / initial * 100.0,
                "sharpe_ratio": sharpe,
                "max_drawdown_pct": max(float(drawdowns(equity, initial)[1].max()), 0.0),
                "trades": trades,
                "final_equity": final,
                "error": None,
            }
        )
    return pd.DataFrame(rows)


def best_of(table: pd.DataFrame, objective: str = "sharpe_ratio") -> dict:
    """The valid row with the highest objective (NaN and invalid rows never win)."""
    valid = table[table["error"].isna()].dropna(subset=[objective])
    if valid.empty:
        raise InvalidInput(f"no combination has a {objective}")
    return valid.loc[valid[objective].astype("float64").idxmax()].to_dict()
