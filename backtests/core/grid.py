"""Parameter grids: one backtest per combination, on the compiled fast path when the strategy has one.

The bars are validated and turned into arrays once and shared by every combination; each one is
then measured by the engine (BacktestEngine.measure: on the compiled kernel unless something in
the run needs the bar-by-bar loop) and reported by its headline figures.
"""

import itertools
from collections.abc import Mapping, Sequence

import pandas as pd

from backtests.core.engine import BacktestEngine
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
    strategies, errors = {}, {}
    for k, combo in enumerate(combos):
        try:
            strategies[k] = strategy_build(
                strategy_config.model_copy(update={"parameters": {**strategy_config.parameters, **combo}})
            )
        except ApplicationError as exc:
            errors[k] = exc.message
    measured = dict(zip(strategies, engine.measure(list(strategies.values()), data, config), strict=True))
    rows = []
    for k, combo in enumerate(combos):
        if k in errors:
            rows.append({**combo, **dict.fromkeys(COLUMNS), "error": errors[k]})
            continue
        metrics = measured[k].metrics
        rows.append(
            {
                **combo,
                "total_return_pct": metrics.total_return_pct,
                "sharpe_ratio": metrics.sharpe_ratio,
                "max_drawdown_pct": metrics.max_drawdown_pct,
                "trades": metrics.total_trades,
                "final_equity": metrics.final_equity,
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
