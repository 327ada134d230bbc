"""Performance metrics of a backtest, computed with numpy from its per-bar equity, exposure and trades."""

import math
from datetime import timedelta

import numpy as np
from numba import njit

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
    per bar. ppy = periods_per_year(timeframe), years = n / ppy,
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

    Raises InvalidInput when the arrays' lengths differ, when equity holds NaN or
    inf, when initial_capital <= 0 or when benchmark_close holds a price that is not finite and > 0.
    """
    equity = np.asarray(equity, dtype="float64")
    exposure = np.asarray(exposure, dtype="float64")
    n = equity.size
    if exposure.size != n:
        raise InvalidInput(f"equity ({n}) and exposure ({exposure.size}) differ in length")
    initial = float(initial_capital)
    if not (np.isfinite(initial) and initial > 0):
        raise InvalidInput(f"initial_capital must be a positive amount, got {initial_capital}")
    if not np.isfinite(equity).all():
        raise InvalidInput("equity holds NaN or inf")

    close = _checked_benchmark(benchmark_close, n)
    ppy = periods_per_year(timeframe)
    years = n / ppy
    final = float(equity[-1]) if n else initial
    total_return = final - initial
    total_return_pct = total_return / initial * 100.0

    statistics = _curve_statistics(
        equity, exposure, initial, risk_free_rate / ppy, np.empty(0) if close is None else close
    )
    returns, std, mean_excess, downside, max_drawdown, max_drawdown_pct, exposed, equity_sum = statistics[:8]
    volatility_pct = sharpe = sortino = None
    if returns >= 2:
        volatility_pct = std * math.sqrt(ppy) * 100.0 if std > ZERO_STD else 0.0
    if returns >= 2 and std > ZERO_STD:
        sharpe = mean_excess / std * math.sqrt(ppy)
        sortino = mean_excess / downside * math.sqrt(ppy) if downside > ZERO_STD else None
    cagr_pct = _cagr_pct(final / initial, years) if n else None
    calmar = cagr_pct / max_drawdown_pct if cagr_pct is not None and max_drawdown_pct > 0 else None

    pnl = trades.pnl
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    trade_returns = trades.return_pct
    held = trades.bars_held

    mean_equity = equity_sum / n if n else 0.0
    turnover = float(traded_notional) / mean_equity / years if n and mean_equity > 0 else 0.0

    benchmark = close is not None and n > 0
    benchmark_return_pct = beta = alpha_pct = None
    if benchmark:
        benchmark_return_pct = float(close[-1] / close[0] - 1.0) * 100.0
        aligned, market_std, strategy_mean, market_mean, covariance, market_variance = statistics[8:]
        if aligned >= 2 and market_std > ZERO_STD:
            beta = covariance / market_variance
            alpha_pct = (strategy_mean - beta * market_mean) * ppy * 100.0

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
        exposure_pct=exposed / n * 100.0 if n else 0.0,
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


def _cagr_pct(growth: float, years: float) -> float | None:
    if growth <= 0:
        return -100.0
    try:
        return (growth ** (1.0 / years) - 1.0) * 100.0
    except OverflowError:
        return None


def _checked_benchmark(benchmark_close: np.ndarray | None, n: int) -> np.ndarray | None:
    if benchmark_close is None:
        return None
    close = np.asarray(benchmark_close, dtype="float64")
    if close.shape != (n,):
        raise InvalidInput(f"benchmark_close has {close.size} values for {n} bars")
    if not (np.isfinite(close).all() and (close > 0).all()):
        raise InvalidInput("benchmark_close holds a price that is not a positive number")
    return close


@njit(cache=True)
def _curve_statistics(equity, exposure, initial, rf_per_bar, close):
    """compute_metrics' figures of the bars, in one compiled pass over them each (numpy would take
    some forty calls, and a parameter grid measures thousands of short curves): the number of
    returns r = bar_returns(equity, initial), std(r, ddof=1), mean(r - rf), the downside deviation
    sqrt(mean(min(r - rf, 0)^2)), the maximum drawdown in money and in percent, the bars with
    exposure, the sum of equity; then, with a benchmark (close; empty for none) and at least two
    aligned returns, their count, std(rb), mean(r), mean(rb), cov(r, rb) and var(rb) (ddof=1; see
    _benchmark_moments), else zeros."""
    n = equity.size
    r = np.empty(n)
    m = 0
    previous = initial
    for t in range(n):
        r[t] = equity[t] / previous - 1.0
        m += 1
        if equity[t] <= 0:  # ruined: the returns stop here
            break
        previous = equity[t]
    r = r[:m]
    _, std = _mean_std(r)
    excess_sum = shortfall = 0.0
    for t in range(m):
        excess = r[t] - rf_per_bar
        excess_sum += excess
        if excess < 0:
            shortfall += excess * excess
    peak = initial
    max_money = max_pct = 0.0
    exposed = 0
    equity_sum = 0.0
    for t in range(n):
        peak = max(peak, equity[t])
        below = peak - equity[t]
        max_money = max(max_money, below)
        max_pct = max(max_pct, below / peak * 100.0)
        if exposure[t] != 0:
            exposed += 1
        equity_sum += equity[t]
    market = (0, 0.0, 0.0, 0.0, 0.0, 0.0)
    if close.size and m >= 3:
        market = _benchmark_moments(r[1:], close)
    mean_excess = excess_sum / m if m else 0.0
    downside = np.sqrt(shortfall / m) if m else 0.0
    return (m, std, mean_excess, downside, max_money, max_pct, exposed, equity_sum, *market)


@njit(cache=True)
def _benchmark_moments(strategy, close):
    """The strategy's returns from its second bar against the benchmark's, rb_t = close_t /
    close_{t-1} - 1, over the same bars: (count, std(rb), mean(r), mean(rb), cov(r, rb), var(rb))."""
    k = strategy.size
    market = close[1 : k + 1] / close[:k] - 1.0
    strategy_mean, _ = _mean_std(strategy)
    market_mean, market_std = _mean_std(market)
    covariance = 0.0
    for t in range(k):
        covariance += (strategy[t] - strategy_mean) * (market[t] - market_mean)
    return k, market_std, strategy_mean, market_mean, covariance / (k - 1), market_std * market_std


@njit(cache=True)
def _mean_std(values):
    """The mean and the sample standard deviation (ddof=1; 0 for fewer than 2 values), two passes."""
    k = values.size
    if k == 0:
        return 0.0, 0.0
    mean = values.sum() / k
    if k < 2:
        return mean, 0.0
    squares = 0.0
    for value in values:
        squares += (value - mean) * (value - mean)
    return mean, np.sqrt(squares / (k - 1))


def _mean(values: np.ndarray) -> float:
    return float(values.sum()) / values.size
