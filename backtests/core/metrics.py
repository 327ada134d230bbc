"""Performance metrics of a backtest, computed with numpy from its per-bar equity, exposure and trades."""

import math
from datetime import timedelta

import numpy as np
import pandas as pd

from backtests.core.results import PerformanceMetrics, Trades
from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput

TRADING_DAYS_PER_YEAR = 252
REGULAR_SESSION = timedelta(hours=6, minutes=30)  # US equities, 09:30-16:00 New York
# A standard deviation of per-bar returns below this is the rounding noise of a constant series
# (e.g. equity growing by exactly 1% a bar): it counts as zero, so no ratio divides by it.
ZERO_STD = 1e-12


def periods_per_year(timeframe: Timeframe) -> float:
    """Bars in a trading year: 252 for daily bars, 252 x 6.5 session hours / bar length intraday."""
    if not timeframe.is_intraday:
        return float(TRADING_DAYS_PER_YEAR)
    return TRADING_DAYS_PER_YEAR * (REGULAR_SESSION / timeframe.duration)


def drawdowns(equity: np.ndarray, initial_capital: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-bar drawdown from the running peak (which starts at initial_capital): money and percent.

    Both are >= 0: ``peak_t - equity_t`` and ``(peak_t - equity_t) / peak_t x 100`` with
    ``peak_t = max(initial_capital, equity_0, ..., equity_t)``.
    """
    equity = np.asarray(equity, dtype="float64")
    peak = np.maximum(np.maximum.accumulate(equity), initial_capital) if equity.size else equity
    money = peak - equity
    return money, money / peak * 100.0


def bar_returns(equity: np.ndarray, initial_capital: float) -> np.ndarray:
    """Simple per-bar returns; the first bar's is against initial_capital.

    Equity at or below zero ruins the account: the returns stop at the first such bar (its return,
    -100% or worse, is the last one), because a return from a base <= 0 means nothing.
    """
    equity = np.asarray(equity, dtype="float64")
    ruined = np.flatnonzero(equity <= 0)
    end = int(ruined[0]) + 1 if ruined.size else equity.size
    previous = np.concatenate(([initial_capital], equity[: end - 1]))
    return equity[:end] / previous - 1.0


def compute_metrics(
    *,
    timestamps: pd.DatetimeIndex,
    equity: np.ndarray,
    exposure: np.ndarray,
    trades: Trades,
    traded_notional: float,
    initial_capital: float,
    timeframe: Timeframe,
    benchmark_close: np.ndarray | None = None,
    risk_free_rate: float = 0.0,
) -> PerformanceMetrics:
    """The PerformanceMetrics of a backtest of n bars.

    ``equity``, ``exposure`` (gross position value / equity) and ``benchmark_close`` hold one value
    per bar of ``timestamps``. ppy = periods_per_year(timeframe), years = n / ppy,
    rf = risk_free_rate / ppy (per bar), r = bar_returns(equity, initial_capital) (r_0 is against
    initial_capital; the series stops at the first bar with equity <= 0). Percentages are in percent
    (5.0 is 5%). No figure is ever NaN or inf: what cannot be computed is None (or 0 where the
    field is not optional).

    Returns
        total_return      final_equity - initial_capital (final_equity = equity[-1], or
                          initial_capital when there are no bars); total_return_pct = that / initial x 100.
        volatility_pct    std(r, ddof=1) x sqrt(ppy) x 100. None with fewer than 2 returns, 0 when
                          std(r) is below ZERO_STD.
        sharpe_ratio      mean(r - rf) / std(r, ddof=1) x sqrt(ppy).
        sortino_ratio     mean(r - rf) / sqrt(mean(min(r - rf, 0)^2)) x sqrt(ppy).
                          Both ratios are None with fewer than 2 returns, when std(r) is zero
                          (below ZERO_STD: flat or constant-growth equity) or, for Sortino, when no
                          return falls below rf.
        cagr_pct          ((final / initial) ^ (1 / years) - 1) x 100; -100 when final <= 0; None
                          without bars or when it overflows a float (a short, huge gain).
    Drawdown (see drawdowns(); the peak includes initial_capital)
        max_drawdown      max over bars of (peak - equity), money; 0 when equity never falls.
        max_drawdown_pct  max over bars of (peak - equity) / peak x 100 (the two maxima may fall on
                          different bars). Above 100 when equity goes negative.
        calmar_ratio      cagr_pct / max_drawdown_pct; None when either is None or zero drawdown.
    Trades (closed round trips)
        total_trades, winning_trades (pnl > 0), losing_trades (pnl < 0); a pnl of 0 is neither.
        win_rate          winning / total x 100; 0 without trades.
        avg_win, avg_loss mean pnl of winners, of losers (negative); None when there are none.
        profit_factor     sum of wins / |sum of losses|; None without losses (0 with losses only).
        avg_holding_bars  mean of trade.bars_held; best_trade_pct / worst_trade_pct: max / min of
                          trade.return_pct. None without trades.
    Activity
        exposure_pct      share of bars with |exposure| > 0, in percent; 0 without bars.
        turnover          traded_notional / mean(equity) / years; 0 without bars or when
                          mean(equity) <= 0.
    Benchmark (buy and hold of benchmark_close; all None when it is not given or there are no bars)
        benchmark_return_pct  (close[-1] / close[0] - 1) x 100.
        excess_return_pct     total_return_pct - benchmark_return_pct.
        beta              cov(r, rb) / var(rb) (both ddof=1), where rb_t = close_t / close_{t-1} - 1
                          and both series are aligned on bars 1..len(r)-1 (bar 0 has no benchmark
                          return). None with fewer than 2 aligned returns or a constant rb.
        alpha_pct         (mean(r) - beta x mean(rb)) x ppy x 100 over those aligned bars, annualised.

    Raises InvalidInput when the arrays' lengths differ from timestamps', when equity holds NaN or
    inf, when initial_capital <= 0 or when benchmark_close holds a price that is not finite and > 0.
    """
    equity = np.asarray(equity, dtype="float64")
    exposure = np.asarray(exposure, dtype="float64")
    n = equity.size
    if len(timestamps) != n or exposure.size != n:
        raise InvalidInput(
            f"timestamps ({len(timestamps)}), equity ({n}) and exposure ({exposure.size}) differ in length"
        )
    initial = float(initial_capital)
    if not (np.isfinite(initial) and initial > 0):
        raise InvalidInput(f"initial_capital must be a positive amount, got {initial_capital}")
    if not np.isfinite(equity).all():
        raise InvalidInput("equity holds NaN or inf")

    ppy = periods_per_year(timeframe)
    years = n / ppy
    final = float(equity[-1]) if n else initial
    total_return = final - initial
    total_return_pct = total_return / initial * 100.0

    returns = bar_returns(equity, initial)
    volatility_pct, sharpe, sortino = risk_ratios(returns, risk_free_rate / ppy, ppy)

    if n:
        dd_money, dd_pct = drawdowns(equity, initial)
        max_drawdown, max_drawdown_pct = max(float(dd_money.max()), 0.0), max(float(dd_pct.max()), 0.0)
    else:
        max_drawdown = max_drawdown_pct = 0.0
    cagr_pct = _cagr_pct(final / initial, years) if n else None
    calmar = cagr_pct / max_drawdown_pct if cagr_pct is not None and max_drawdown_pct > 0 else None

    pnl = trades.pnl
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    trade_returns = trades.return_pct
    held = trades.bars_held

    mean_equity = _mean(equity) if n else 0.0
    turnover = float(traded_notional) / mean_equity / years if n and mean_equity > 0 else 0.0

    benchmark = _benchmark(benchmark_close, returns, n, ppy)
    benchmark_return_pct, beta, alpha_pct = benchmark if benchmark else (None, None, None)

    return PerformanceMetrics(
        total_return=total_return,
        total_return_pct=total_return_pct,
        sharpe_ratio=sharpe,
        max_drawdown=max_drawdown,
        max_drawdown_pct=max_drawdown_pct,
        win_rate=wins.size / pnl.size * 100.0 if pnl.size else 0.0,
        total_trades=pnl.size,
        winning_trades=wins.size,
        losing_trades=losses.size,
        avg_win=_mean(wins) if wins.size else None,
        avg_loss=_mean(losses) if losses.size else None,
        profit_factor=float(wins.sum() / -losses.sum()) if losses.size else None,
        final_equity=final,
        cagr_pct=cagr_pct,
        volatility_pct=volatility_pct,
        sortino_ratio=sortino,
        calmar_ratio=calmar,
        exposure_pct=int(np.count_nonzero(exposure)) / n * 100.0 if n else 0.0,
        turnover=turnover,
        avg_holding_bars=_mean(held) if held.size else None,
        best_trade_pct=float(trade_returns.max()) if trade_returns.size else None,
        worst_trade_pct=float(trade_returns.min()) if trade_returns.size else None,
        benchmark_return_pct=benchmark_return_pct,
        excess_return_pct=total_return_pct - benchmark_return_pct if benchmark else None,
        alpha_pct=alpha_pct,
        beta=beta,
        periods_per_year=ppy,
    )


def risk_ratios(
    returns: np.ndarray, rf_per_bar: float, ppy: float
) -> tuple[float | None, float | None, float | None]:
    """(volatility_pct, sharpe, sortino) as compute_metrics defines them."""
    if returns.size < 2:
        return None, None, None
    std = _std(returns)
    if std <= ZERO_STD:
        return 0.0, None, None
    excess = returns - rf_per_bar
    mean_excess = _mean(excess)
    shortfall = np.minimum(excess, 0.0)
    downside = math.sqrt(float(shortfall @ shortfall) / shortfall.size)
    sortino = mean_excess / downside * math.sqrt(ppy) if downside > ZERO_STD else None
    return std * math.sqrt(ppy) * 100.0, mean_excess / std * math.sqrt(ppy), sortino


def _cagr_pct(growth: float, years: float) -> float | None:
    if growth <= 0:
        return -100.0
    try:
        return (growth ** (1.0 / years) - 1.0) * 100.0
    except OverflowError:
        return None


def _benchmark(
    benchmark_close: np.ndarray | None, returns: np.ndarray, n: int, ppy: float
) -> tuple[float, float | None, float | None] | None:
    """(benchmark_return_pct, beta, alpha_pct), or None without a benchmark or bars."""
    if benchmark_close is None:
        return None
    close = np.asarray(benchmark_close, dtype="float64")
    if close.shape != (n,):
        raise InvalidInput(f"benchmark_close has {close.size} values for {n} bars")
    if not n:
        return None
    if not (np.isfinite(close).all() and (close > 0).all()):
        raise InvalidInput("benchmark_close holds a price that is not a positive number")
    return_pct = float(close[-1] / close[0] - 1.0) * 100.0
    strategy = returns[1:]
    market = close[1 : strategy.size + 1] / close[: strategy.size] - 1.0
    if strategy.size < 2 or _std(market) <= ZERO_STD:
        return return_pct, None, None
    strategy_mean, market_mean = _mean(strategy), _mean(market)
    spread = market - market_mean
    covariance = float((strategy - strategy_mean) @ spread) / (strategy.size - 1)
    beta = covariance / (float(spread @ spread) / (market.size - 1))
    alpha_pct = (strategy_mean - beta * market_mean) * ppy * 100.0
    return return_pct, beta, alpha_pct


def _mean(values: np.ndarray) -> float:
    return float(values.sum()) / values.size


def _std(values: np.ndarray) -> float:
    """The sample standard deviation (ddof=1), with one dot product (numpy's std is slow on the
    short series a parameter grid measures thousands of times)."""
    spread = values - _mean(values)
    return math.sqrt(float(spread @ spread) / (values.size - 1))
