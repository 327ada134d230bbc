"""compute_metrics on small hand-built equity curves and trades, every figure worked out by hand."""

import dataclasses
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from backtests.core.metrics import bar_returns, compute_metrics, drawdowns, periods_per_year
from backtests.core.results import PerformanceMetrics, Trade, Trades
from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput

T0 = datetime(2024, 1, 2, tzinfo=UTC)


def approx(value):
    return pytest.approx(value, rel=1e-12, abs=1e-12)


def trade(
    pnl, *, direction="long", entry_price=100.0, exit_price=110.0, entry_bar=0, exit_bar=1, symbol="AAA"
):
    return Trade(
        symbol=symbol,
        direction=direction,
        quantity=1.0,
        entry_time=T0 + timedelta(days=entry_bar),
        entry_price=entry_price,
        exit_time=T0 + timedelta(days=exit_bar),
        exit_price=exit_price,
        pnl=pnl,
        commission=1.0,
        entry_bar=entry_bar,
        exit_bar=exit_bar,
    )


def metrics_of(equity, *, exposure=None, trades=(), traded_notional=0.0, initial=100.0, **kwargs):
    equity = np.asarray(equity, dtype="float64")
    return compute_metrics(
        equity=equity,
        exposure=np.zeros(equity.size) if exposure is None else np.asarray(exposure, dtype="float64"),
        trades=Trades.from_records(list(trades)),
        traded_notional=traded_notional,
        initial_capital=initial,
        timeframe=kwargs.pop("timeframe", Timeframe.D1),
        **kwargs,
    )


def assert_all_finite(metrics: PerformanceMetrics) -> None:
    for field in dataclasses.fields(metrics):
        value = getattr(metrics, field.name)
        assert value is None or (type(value) in {int, float} and math.isfinite(value)), field.name


# Returns +10%, -10%, +20%, -10%, +10% from an initial capital of 100.
EQUITY = [110.0, 99.0, 118.8, 106.92, 117.612]
# Benchmark returns on bars 1..4: -10%, +10%, 0%, +10%.
BENCHMARK = [100.0, 90.0, 99.0, 99.0, 108.9]
THREE_TRADES = [
    trade(30.0, entry_price=100.0, exit_price=110.0, entry_bar=0, exit_bar=2),  # +10%
    trade(-10.0, entry_price=50.0, exit_price=45.0, entry_bar=1, exit_bar=2),  # -10%
    trade(5.0, direction="short", entry_price=20.0, exit_price=19.0, entry_bar=1, exit_bar=4),  # +5%
]


@pytest.mark.parametrize(
    ("timeframe", "expected"),
    [
        (Timeframe.D1, 252.0),
        (Timeframe.H1, 1638.0),
        (Timeframe.M15, 6552.0),
        (Timeframe.M5, 19656.0),
        (Timeframe.M1, 98280.0),
    ],
)
def test_periods_per_year_is_252_days_of_six_and_a_half_hours(timeframe, expected):
    assert periods_per_year(timeframe) == expected


def test_every_figure_of_a_five_bar_curve():
    # given five daily bars, a benchmark, three trades and 1,000 of traded notional
    # when
    m = metrics_of(
        EQUITY,
        exposure=[0.0, 1.0, 1.0, 0.5, 0.0],
        trades=THREE_TRADES,
        traded_notional=1000.0,
        benchmark_close=BENCHMARK,
    )
    # then: returns 0.1, -0.1, 0.2, -0.1, 0.1 have mean 0.04 and deviations 0.06, -0.14, 0.16,
    # -0.14, 0.06, whose squares sum to 0.072: variance (ddof=1) 0.018
    assert m.final_equity == 117.612
    assert m.total_return == approx(17.612)
    assert m.total_return_pct == approx(17.612)
    assert m.volatility_pct == approx(math.sqrt(0.018) * math.sqrt(252) * 100)
    assert m.sharpe_ratio == approx(0.04 / math.sqrt(0.018) * math.sqrt(252))
    # downside: squares of min(r, 0) are 0.01 twice, mean over 5 bars 0.004
    assert m.sortino_ratio == approx(0.04 / math.sqrt(0.004) * math.sqrt(252))
    # peaks 110, 110, 118.8, 118.8, 118.8: drawdowns 0, 11, 0, 11.88, 1.188
    assert m.max_drawdown == approx(11.88)
    assert m.max_drawdown_pct == approx(10.0)
    assert m.cagr_pct == approx((1.17612 ** (252 / 5) - 1) * 100)
    assert m.calmar_ratio == approx((1.17612 ** (252 / 5) - 1) * 100 / 10.0)
    # three trades: pnl 30, -10, 5; returns +10%, -10%, +5%; held 2, 1, 3 bars
    assert m.total_trades == 3
    assert m.winning_trades == 2
    assert m.losing_trades == 1
    assert m.win_rate == approx(200 / 3)
    assert m.avg_win == 17.5
    assert m.avg_loss == -10.0
    assert m.profit_factor == 3.5
    assert m.avg_holding_bars == 2.0
    assert m.best_trade_pct == approx(10.0)
    assert m.worst_trade_pct == approx(-10.0)
    # 3 of 5 bars hold a position; mean equity 552.332 / 5 over 5/252 years
    assert m.exposure_pct == 60.0
    assert m.turnover == approx(1000.0 / (552.332 / 5) / (5 / 252))
    assert m.periods_per_year == 252.0
    # benchmark 100 -> 108.9; aligned bars 1..4: r = -0.1, 0.2, -0.1, 0.1 (mean 0.025) and
    # rb = -0.1, 0.1, 0, 0.1 (mean 0.025): sum of cross deviations 0.0375, of rb's squares 0.0275
    assert m.benchmark_return_pct == approx(8.9)
    assert m.excess_return_pct == approx(17.612 - 8.9)
    assert m.beta == approx(0.0375 / 0.0275)
    assert m.alpha_pct == approx((0.025 - 0.0375 / 0.0275 * 0.025) * 252 * 100)
    assert_all_finite(m)


def test_the_risk_free_rate_is_taken_per_bar_from_the_excess_returns():
    # given a risk-free rate of 25.2% a year, 0.1% a bar
    # when
    m = metrics_of(EQUITY, risk_free_rate=0.252)
    # then excess returns are 0.099, -0.101, 0.199, -0.101, 0.099; the volatility does not change
    assert m.sharpe_ratio == approx(0.039 / math.sqrt(0.018) * math.sqrt(252))
    assert m.sortino_ratio == approx(0.039 / math.sqrt(2 * 0.101**2 / 5) * math.sqrt(252))
    assert m.volatility_pct == approx(math.sqrt(0.018) * math.sqrt(252) * 100)


def test_the_deepest_drawdown_in_money_and_in_percent_can_fall_on_different_bars():
    # given an initial capital of 100 (itself a peak), then 80, 200, 170, 210
    equity = [80.0, 200.0, 170.0, 210.0]
    # when
    m = metrics_of(equity)
    money, pct = drawdowns(np.array(equity), 100.0)
    # then 20 (20%) below the initial capital, then 30 (15%) below 200
    assert money.tolist() == [20.0, 0.0, 30.0, 0.0]
    assert pct.tolist() == [20.0, 0.0, 15.0, 0.0]
    assert m.max_drawdown == 30.0
    assert m.max_drawdown_pct == 20.0


def test_no_trades():
    # given a curve without any closed trade
    # when
    m = metrics_of(EQUITY)
    # then
    assert (m.total_trades, m.winning_trades, m.losing_trades) == (0, 0, 0)
    assert m.win_rate == 0.0
    assert m.avg_win is None
    assert m.avg_loss is None
    assert m.profit_factor is None
    assert m.avg_holding_bars is None
    assert m.best_trade_pct is None
    assert m.worst_trade_pct is None
    assert m.exposure_pct == 0.0
    assert m.turnover == 0.0


def test_all_winners_have_no_profit_factor_and_a_zero_pnl_is_neither_win_nor_loss():
    # given two winners and a scratch trade
    trades = [trade(4.0), trade(6.0), trade(0.0, exit_price=100.0)]
    # when
    m = metrics_of(EQUITY, trades=trades)
    # then
    assert (m.total_trades, m.winning_trades, m.losing_trades) == (3, 2, 0)
    assert m.win_rate == approx(200 / 3)
    assert m.avg_win == 5.0
    assert m.avg_loss is None
    assert m.profit_factor is None
    assert m.worst_trade_pct == 0.0


def test_only_losers_have_a_profit_factor_of_zero():
    # given
    trades = [trade(-4.0, exit_price=96.0), trade(-6.0, exit_price=94.0)]
    # when
    m = metrics_of(EQUITY, trades=trades)
    # then
    assert m.win_rate == 0.0
    assert m.avg_win is None
    assert m.avg_loss == -5.0
    assert m.profit_factor == 0.0
    assert m.best_trade_pct == approx(-4.0)
    assert m.worst_trade_pct == approx(-6.0)


def test_flat_equity_has_zero_volatility_and_no_ratios():
    # given equity that never moves, with a risk-free rate
    # when
    m = metrics_of([100.0] * 5, risk_free_rate=0.05, benchmark_close=[10.0] * 5)
    # then
    assert m.total_return == 0.0
    assert m.volatility_pct == 0.0
    assert m.sharpe_ratio is None
    assert m.sortino_ratio is None
    assert m.max_drawdown == 0.0
    assert m.max_drawdown_pct == 0.0
    assert m.cagr_pct == 0.0
    assert m.calmar_ratio is None
    assert m.benchmark_return_pct == 0.0
    assert m.excess_return_pct == 0.0
    assert m.beta is None
    assert m.alpha_pct is None
    assert_all_finite(m)


def test_constant_growth_counts_as_zero_volatility_despite_rounding():
    # given equity growing by 1% every bar: its returns differ only by rounding noise
    equity = 100.0 * 1.01 ** np.arange(1, 11)
    # when
    m = metrics_of(equity)
    # then
    assert m.volatility_pct == 0.0
    assert m.sharpe_ratio is None
    assert m.sortino_ratio is None
    assert m.max_drawdown == 0.0
    assert m.cagr_pct == approx((1.01**252 - 1) * 100)


def test_a_single_bar():
    # given one bar, 1% up, and a one-bar benchmark
    # when
    m = metrics_of([101.0], exposure=[1.0], traded_notional=100.0, benchmark_close=[50.0])
    # then
    assert m.total_return == 1.0
    assert m.total_return_pct == 1.0
    assert m.volatility_pct is None
    assert m.sharpe_ratio is None
    assert m.sortino_ratio is None
    assert m.cagr_pct == approx((1.01**252 - 1) * 100)
    assert m.calmar_ratio is None
    assert m.exposure_pct == 100.0
    assert m.turnover == approx(100.0 / 101.0 * 252)
    assert m.benchmark_return_pct == 0.0
    assert m.excess_return_pct == 1.0
    assert m.beta is None
    assert m.alpha_pct is None


def test_no_bars_at_all():
    # given an empty curve
    # when
    m = metrics_of([], benchmark_close=[])
    # then
    assert m.final_equity == 100.0
    assert m.total_return == 0.0
    assert m.max_drawdown == 0.0
    assert m.cagr_pct is None
    assert m.volatility_pct is None
    assert m.exposure_pct == 0.0
    assert m.turnover == 0.0
    assert m.benchmark_return_pct is None
    assert m.excess_return_pct is None


def test_returns_stop_at_the_first_bar_where_equity_reaches_zero_or_below():
    # given 100 -> 50 -> -10 -> 0 -> 5
    equity = np.array([50.0, -10.0, 0.0, 5.0])
    # when
    returns = bar_returns(equity, 100.0)
    # then the -120% of the ruin bar is the last return
    assert returns.tolist() == [-0.5, -1.2]


def test_equity_going_negative_gives_finite_figures():
    # given an account that loses more than everything: 100 -> 50 -> -10 -> -10
    # when
    m = metrics_of([50.0, -10.0, -10.0], traded_notional=300.0)
    # then returns -0.5, -1.2 (mean -0.85, variance 2 x 0.35^2 = 0.245), nothing after the ruin
    assert m.total_return == -110.0
    assert m.total_return_pct == approx(-110.0)
    assert m.max_drawdown == 110.0
    assert m.max_drawdown_pct == approx(110.0)
    assert m.cagr_pct == -100.0
    assert m.calmar_ratio == approx(-100.0 / 110.0)
    assert m.sharpe_ratio == approx(-0.85 / math.sqrt(0.245) * math.sqrt(252))
    assert m.sortino_ratio == approx(-0.85 / math.sqrt((0.25 + 1.44) / 2) * math.sqrt(252))
    assert m.turnover == approx(300.0 / 10.0 / (3 / 252))
    assert_all_finite(m)


def test_turnover_is_zero_when_average_equity_is_not_positive():
    # given equity averaging -10 after a ruin
    # when
    m = metrics_of([-10.0, -10.0, -10.0], traded_notional=500.0)
    # then
    assert m.turnover == 0.0
    assert m.max_drawdown_pct == approx(110.0)
    assert_all_finite(m)


def test_a_cagr_too_large_for_a_float_is_none():
    # given equity doubling in one minute bar: 2 ** 98280 overflows
    # when
    m = metrics_of([200.0], timeframe=Timeframe.M1)
    # then
    assert m.cagr_pct is None
    assert m.calmar_ratio is None
    assert m.periods_per_year == 98280.0


def test_a_constant_benchmark_has_a_return_but_no_beta():
    # given
    # when
    m = metrics_of(EQUITY, benchmark_close=[20.0] * 5)
    # then
    assert m.benchmark_return_pct == 0.0
    assert m.excess_return_pct == approx(17.612)
    assert m.beta is None
    assert m.alpha_pct is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"exposure": [0.0, 0.0]}, "differ in length"),
        ({"initial": 0.0}, "initial_capital must be a positive amount"),
        ({"benchmark_close": [1.0, 2.0]}, "benchmark_close has 2 values for 5 bars"),
        ({"benchmark_close": [1.0, 2.0, 0.0, 3.0, 4.0]}, "not a positive number"),
    ],
)
def test_inconsistent_inputs_are_refused(kwargs, message):
    # given / when / then
    with pytest.raises(InvalidInput, match=message):
        metrics_of(EQUITY, **kwargs)


def test_equity_with_nan_is_refused():
    # given / when / then
    with pytest.raises(InvalidInput, match="equity holds NaN or inf"):
        metrics_of([110.0, float("nan")])
