"""The monitoring figures that need no database: ratios of a daily equity series, the drawdown
carried from one snapshot to the next, and a win rate. Pure (numpy only): importable from a notebook.

The ratios follow backtests.core.metrics (sample standard deviation, risk-free rate 0, annualised
by sqrt(252)), applied to one equity a day.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TRADING_DAYS_PER_YEAR = 252
ZERO_STD = 1e-12  # below this, returns are constant: no ratio divides by it


@dataclass(frozen=True)
class Ratios:
    sharpe: float | None
    sortino: float | None


def daily_ratios(equity: Sequence[float]) -> Ratios:
    """Sharpe and Sortino of the daily returns of equity (one value a day, oldest first):
    mean(r) / std(r, ddof=1) x sqrt(252), and mean(r) / sqrt(mean(min(r, 0)^2)) x sqrt(252).
    None with fewer than two returns, with constant returns, or (Sortino) with no losing day; a
    series that reaches zero equity stops there."""
    values = np.asarray(equity, dtype="float64")
    ruined = np.flatnonzero(values <= 0)
    if ruined.size:
        values = values[: int(ruined[0]) + 1]
    if values.size < 3:
        return Ratios(None, None)
    returns = values[1:] / values[:-1] - 1.0
    std = float(returns.std(ddof=1))
    if std <= ZERO_STD:
        return Ratios(None, None)
    mean = float(returns.mean())
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    root = math.sqrt(TRADING_DAYS_PER_YEAR)
    return Ratios(mean / std * root, mean / downside * root if downside > ZERO_STD else None)


@dataclass(frozen=True)
class Drawdown:
    peak: float
    drawdown_pct: float
    max_drawdown_pct: float


def drawdown_next(*, previous: Drawdown | None, equity: float, initial_capital: float) -> Drawdown:
    """The drawdown after one more equity: the peak (never below the initial capital) and the fall
    from it now and at worst, in percent. previous: the last snapshot's (None for the first)."""
    peak = max(equity, initial_capital, previous.peak if previous else initial_capital)
    now = (peak - equity) / peak * 100.0 if peak > 0 else 0.0
    worst = max(now, previous.max_drawdown_pct if previous else 0.0)
    return Drawdown(peak, now, worst)


def win_rate(pnls: Sequence[float]) -> float | None:
    """Winning round trips (pnl > 0) / all of them x 100; None without any."""
    if not len(pnls):
        return None
    return sum(1 for p in pnls if p > 0) / len(pnls) * 100.0
