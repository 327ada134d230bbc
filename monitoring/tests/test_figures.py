"""The pure figures: ratios of daily equity, drawdown carried between snapshots, win rate."""

import math

import pytest

from monitoring.core.figures import Drawdown, Ratios, daily_ratios, drawdown_next, win_rate


def test_sharpe_and_sortino_of_daily_equity_are_annualised_by_the_root_of_252():
    # returns +10%, -10%, +10%: mean 1/30, std sqrt(2/150), downside sqrt(0.01 / 3)
    ratios = daily_ratios([100, 110, 99, 108.9])

    assert ratios.sharpe == pytest.approx(math.sqrt(21), rel=1e-12)
    assert ratios.sortino == pytest.approx(math.sqrt(84), rel=1e-12)


def test_too_few_days_constant_returns_or_no_losing_day_give_no_ratio():
    assert daily_ratios([100, 110]) == Ratios(None, None)
    assert daily_ratios([100, 110, 121, 133.1]) == Ratios(None, None)  # constant +10%
    rising = daily_ratios([100, 101, 103, 106])
    assert (rising.sharpe is not None, rising.sortino) == (True, None)


def test_a_ruined_series_stops_at_zero_equity():
    assert daily_ratios([100, 50, 0, 10, 20]) == daily_ratios([100, 50, 0])


def test_the_drawdown_is_measured_from_the_highest_equity_and_the_initial_capital():
    first = drawdown_next(previous=None, equity=9_500, initial_capital=10_000)
    assert first == Drawdown(10_000, 5.0, 5.0)
    higher = drawdown_next(previous=first, equity=12_000, initial_capital=10_000)
    assert higher == Drawdown(12_000, 0.0, 5.0)
    fallen = drawdown_next(previous=higher, equity=10_800, initial_capital=10_000)
    assert fallen == Drawdown(12_000, pytest.approx(10.0), pytest.approx(10.0))


def test_win_rate_counts_only_gains_as_wins():
    assert win_rate([38.0, -2.0, 0.0, 5.0]) == 50.0
    assert win_rate([]) is None
