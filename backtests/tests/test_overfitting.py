"""Deflated Sharpe, probability of backtest overfitting and the lookahead check, on known answers."""

import math
from datetime import UTC, datetime
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
import talib

from backtests.core.overfitting import (
    LookaheadFinding,
    deflated_sharpe,
    expected_max_sharpe,
    lookahead_check,
    probability_of_backtest_overfitting,
    psr,
)
from marketdata.core.bars import BarArrays, Timeframe
from marketdata.core.errors import InvalidInput
from marketdata.core.providers.synthetic import SyntheticProvider
from strategies.core.base import NO_SIGNAL, SIGNAL_FLAT, SIGNAL_LONG
from strategies.core.builtin import ArraySignalStrategy, MeanReversion, Momentum
from strategies.core.config import StrategyConfig

Z = NormalDist()
GAMMA = 0.5772156649015329  # Euler–Mascheroni


# --- Deflated Sharpe Ratio ---------------------------------------------------------------------


def test_expected_max_sharpe_and_psr_match_a_worked_example():
    # Given N = 100 trials whose per-bar Sharpe ratios have variance V = 0.002, and a chosen
    # strategy with SR = 0.1 per bar over T = 1250 bars, skewness -0.3, kurtosis 5.
    # SR0 = sqrt(V) ((1 - γ) Z⁻¹(1 - 1/N) + γ Z⁻¹(1 - 1/(N e)))
    #   Z⁻¹(0.99)            = 2.3263478740408408
    #   Z⁻¹(1 - 1/(100 e))   = 2.680210444966887
    #   0.4227843 * 2.3263479 + 0.5772157 * 2.6802104 = 2.5306028932016846
    #   sqrt(0.002)          = 0.044721359549995794
    #   SR0                  = 0.11317200186513214
    sr0 = math.sqrt(0.002) * (
        (1 - GAMMA) * Z.inv_cdf(1 - 1 / 100) + GAMMA * Z.inv_cdf(1 - 1 / (100 * math.e))
    )
    # PSR(SR0) = Z((SR - SR0) sqrt(T - 1) / sqrt(1 - γ3 SR + (γ4 - 1) / 4 SR²))
    #   radicand = 1 + 0.3 * 0.1 + 4 / 4 * 0.01 = 1.04
    #   z = (0.1 - 0.113172) * sqrt(1249) / sqrt(1.04) = -0.4564743018565803
    #   DSR = Z(z) = 0.3240244730900416
    z = (0.1 - sr0) * math.sqrt(1249) / math.sqrt(1 - (-0.3) * 0.1 + (5 - 1) / 4 * 0.1**2)

    # When / then
    assert sr0 == pytest.approx(0.11317200186513214, rel=1e-12)
    assert expected_max_sharpe(100, 0.002) == pytest.approx(sr0, rel=1e-12)
    assert psr(0.1, sr0, 1250, -0.3, 5.0) == pytest.approx(Z.cdf(z), rel=1e-12)
    assert Z.cdf(z) == pytest.approx(0.3240244730900416, rel=1e-12)


def test_the_papers_numerical_example():
    # Bailey and López de Prado (2014), "a numerical example": annualised SR 2.5 over 5 years of
    # daily returns (T = 1250), N = 100 trials with annualised Sharpe variance 1/2, skewness -3,
    # kurtosis 10; the paper finds SR0 ≈ 0.1132 per day and DSR ≈ 0.9004.
    sharpe, variance = 2.5 / math.sqrt(250), 0.5 / 250

    sr0 = expected_max_sharpe(100, variance)

    assert round(sr0, 4) == 0.1132
    assert round(psr(sharpe, sr0, 1250, -3.0, 10.0), 4) == 0.9004


def test_one_trial_is_no_selection():
    assert expected_max_sharpe(1, 0.5) == 0.0
    assert psr(0.0, 0.0, 100, 0.0, 3.0) == 0.5


def test_deflated_sharpe_of_explicit_returns():
    # Given six returns and four trials' Sharpe ratios
    returns = [0.01, -0.02, 0.03, 0.005, -0.01, 0.02]
    trials = [0.1, 0.3, -0.2, 0.05]
    n = len(returns)
    mean = sum(returns) / n
    sample_std = math.sqrt(sum((r - mean) ** 2 for r in returns) / (n - 1))
    m2, m3, m4 = (sum((r - mean) ** k for r in returns) / n for k in (2, 3, 4))
    trial_mean = sum(trials) / 4
    trial_variance = sum((s - trial_mean) ** 2 for s in trials) / 3

    # When
    result = deflated_sharpe(returns, trials)

    # Then: every field from its definition, the probability from the two lower-level functions
    assert result.sharpe == pytest.approx(mean / sample_std, rel=1e-12)
    assert result.skewness == pytest.approx(m3 / m2**1.5, rel=1e-12)
    assert result.kurtosis == pytest.approx(m4 / m2**2, rel=1e-12)
    assert result.trial_sharpe_variance == pytest.approx(trial_variance, rel=1e-12)
    assert result.expected_max_sharpe == pytest.approx(expected_max_sharpe(4, trial_variance), rel=1e-12)
    assert (result.trials, result.observations) == (4, 6)
    expected = psr(result.sharpe, result.expected_max_sharpe, 6, result.skewness, result.kurtosis)
    assert result.probability == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("returns", "trials", "message"),
    [
        ([0.01, 0.02, -0.01], [0.1], "at least 2 trials"),
        ([0.01, 0.02], [0.1, 0.2], "at least 3 returns"),
        ([0.01, np.nan, -0.01], [0.1, 0.2], "returns contain NaN"),
        ([0.01, 0.02, -0.01], [0.1, np.inf], "trial Sharpe ratios contain NaN"),
        ([0.01, 0.01, 0.01], [0.1, 0.2], "zero standard deviation"),
    ],
)
def test_deflated_sharpe_rejects_bad_input(returns, trials, message):
    with pytest.raises(InvalidInput, match=message):
        deflated_sharpe(returns, trials)


def test_psr_rejects_moments_without_a_standard_error():
    # 1 - 2 * 1 + (2 - 1) / 4 * 1 = -0.75
    with pytest.raises(InvalidInput, match=r"is -0\.75, not positive"):
        psr(1.0, 0.0, 100, 2.0, 2.0)


# --- Probability of Backtest Overfitting -------------------------------------------------------


def per_bar_sharpes(returns: np.ndarray) -> np.ndarray:
    return returns.mean(axis=0) / returns.std(axis=0, ddof=1)


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    """50 skill-less strategies: 1000 bars of iid N(0, 1%) returns."""
    return np.random.default_rng(2).normal(0.0, 0.01, (1000, 50))


@pytest.fixture(scope="module")
def edge() -> np.ndarray:
    """47 skill-less strategies and 3 (the first) with a real edge of +0.1 std per bar, 4000 bars."""
    returns = np.random.default_rng(3).normal(0.0, 0.01, (4000, 50))
    returns[:, :3] += 0.001
    return returns


def test_pbo_of_pure_noise_is_near_a_half(noise):
    result = probability_of_backtest_overfitting(noise)

    # Without skill the in-sample best lands anywhere out of sample: PBO near 0.5. The splits
    # share their data, so one sample's PBO spreads widely: over seeds 0-99 of this setup the
    # median was 0.48, the 5th to 95th percentiles 0.23 to 0.75. This seed gives 0.4426.
    assert 0.3 <= result.pbo <= 0.75
    assert result.pbo == pytest.approx(0.4426, abs=5e-5)
    assert (result.splits, result.partitions, len(result.logits)) == (12870, 16, 12870)
    assert result.pbo == np.mean(result.logits <= 0)


def test_pbo_of_a_planted_edge_is_small(edge):
    result = probability_of_backtest_overfitting(edge)

    # The IS-best is an edge column in every split and stays near the top out of sample (over
    # seeds 0-99 of this setup the highest PBO was 0.004), keeping its Sharpe of about 0.1.
    assert result.pbo < 0.1
    assert result.pbo == 0.0
    assert result.probability_of_loss == 0.0
    assert float(np.median(result.degradation[1])) == pytest.approx(0.0994, abs=5e-5)


def test_pbo_on_a_hand_computed_case():
    # Given S = 2 partitions of 2 bars (the first of 5 rows is dropped: 5 mod 2 = 1) and 2 trials:
    #   block 0 (rows 1-2): col0 [1, 3] Sharpe 2/√2 = √2, col1 [0, 2] Sharpe 1/√2
    #   block 1 (rows 3-4): col0 [0, 2] Sharpe 1/√2,      col1 [2, 6] Sharpe 4/(2√2) = √2
    # Split 0 (IS block 0): best col0, OOS rank 1 of 2, w = 1/3, λ = ln(1/2); split 1 mirrors it.
    returns = np.array([[100.0, -100.0], [1, 0], [3, 2], [0, 2], [2, 6]])

    result = probability_of_backtest_overfitting(returns, partitions=2)

    assert result.splits == 2
    np.testing.assert_allclose(result.logits, [math.log(0.5)] * 2, rtol=1e-12)
    assert result.pbo == 1.0
    np.testing.assert_allclose(result.degradation[0], [math.sqrt(2)] * 2, rtol=1e-12)
    np.testing.assert_allclose(result.degradation[1], [1 / math.sqrt(2)] * 2, rtol=1e-12)
    assert result.probability_of_loss == 0.0


def test_tied_oos_performance_gets_the_average_rank():
    # Given 3 trials: col0 best in sample; out of sample all three have the same Sharpe ratio
    returns = np.array([[1.0, 0, 0], [3, 2, 1], [1, 1, 1], [3, 3, 3]])

    result = probability_of_backtest_overfitting(returns, partitions=2)

    # Split 0: the average rank of three ties is 2 of 3, w = 2/4, λ = 0 (counted as overfit).
    # Split 1: all tie in sample, the first (col0) is taken; it is best out of sample: λ = ln 3.
    np.testing.assert_allclose(result.logits, [0.0, math.log(3)], rtol=1e-12)
    assert result.pbo == 0.5


def test_a_custom_metric_sees_the_blocks_in_time_order_and_the_default_sharpe_agrees():
    returns = np.random.default_rng(11).normal(0.0005, 0.01, (300, 6))
    seen = []

    def sharpe(half: np.ndarray) -> np.ndarray:
        seen.append(half[0, 0])
        return per_bar_sharpes(half)

    custom = probability_of_backtest_overfitting(returns, partitions=6, metric=sharpe)
    default = probability_of_backtest_overfitting(returns, partitions=6)

    np.testing.assert_allclose(custom.logits, default.logits, rtol=1e-12)
    np.testing.assert_allclose(custom.degradation[0], default.degradation[0], rtol=1e-9)
    np.testing.assert_allclose(custom.degradation[1], default.degradation[1], rtol=1e-9)
    assert custom.pbo == default.pbo
    # Split 0 is blocks 0-2 in sample, 3-5 out: each half starts with its earliest block's first bar.
    assert seen[:2] == [returns[0, 0], returns[150, 0]]


def test_a_constant_column_scores_zero():
    # Given a column that never moves (0.003 a bar: Σx² - (Σx)²/n over 5 of them rounds to
    # +1.7e-21, which would make a Sharpe of 7e7) and one that does
    moving = np.array([0.01, -0.02, 0.03, 0.0, 0.02, 0.01, -0.01, 0.02, 0.005, 0.015])
    returns = np.column_stack([np.full(10, 0.003), moving])
    first, second = per_bar_sharpes(moving[:5, None])[0], per_bar_sharpes(moving[5:, None])[0]

    result = probability_of_backtest_overfitting(returns, partitions=2)

    # Then the constant column scores 0 in both halves: the moving one (Sharpe 0.416 and 0.695) is
    # the IS-best of both splits and ranks 2 of 2 out of sample, w = 2/3, λ = ln 2.
    np.testing.assert_allclose(result.degradation[0], [first, second], rtol=1e-12)
    np.testing.assert_allclose(result.degradation[1], [second, first], rtol=1e-12)
    np.testing.assert_allclose(result.logits, [math.log(2)] * 2, rtol=1e-12)
    assert result.pbo == 0.0


@pytest.mark.parametrize(
    ("shape", "partitions", "message"),
    [
        ((100, 5), 5, "even and at least 2"),
        ((100, 5), 0, "even and at least 2"),
        ((31, 5), 16, "too few for 16 partitions"),
        ((100, 1), 4, "at least 2 trials"),
        ((100,), 4, "T x N matrix"),
    ],
)
def test_pbo_rejects_bad_input(shape, partitions, message):
    with pytest.raises(InvalidInput, match=message):
        probability_of_backtest_overfitting(np.zeros(shape), partitions=partitions)


def test_pbo_rejects_nan():
    returns = np.zeros((40, 3))
    returns[5, 1] = np.nan
    with pytest.raises(InvalidInput, match="NaN or infinite"):
        probability_of_backtest_overfitting(returns, partitions=4)


# --- DSR on the same matrices ------------------------------------------------------------------


def test_the_best_of_noise_does_not_pass_the_deflated_sharpe(noise):
    sharpes = per_bar_sharpes(noise)

    result = deflated_sharpe(noise[:, np.argmax(sharpes)], sharpes)

    # Its Sharpe (0.0701 per bar, 1.11 a year) is about what 50 trials give by luck (SR0 0.0663).
    assert result.sharpe == pytest.approx(0.0701, abs=5e-5)
    assert result.expected_max_sharpe == pytest.approx(0.0663, abs=5e-5)
    assert result.probability == pytest.approx(0.5479, abs=5e-5)
    assert not result.passes()


def test_a_planted_edge_passes_the_deflated_sharpe(edge):
    sharpes = per_bar_sharpes(edge)
    best = int(np.argmax(sharpes))

    result = deflated_sharpe(edge[:, best], sharpes)

    # An edge column wins (0.1133 per bar) well clear of the luck of 50 trials (SR0 0.0642).
    assert best == 0
    assert result.sharpe == pytest.approx(0.1133, abs=5e-5)
    assert result.expected_max_sharpe == pytest.approx(0.0642, abs=5e-5)
    assert result.probability == pytest.approx(0.9990, abs=5e-5)
    assert result.passes()


# --- Lookahead check ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    """Two years of synthetic daily AAA bars (seed 7): 501 bars."""
    start, end = datetime(2022, 1, 1, tzinfo=UTC), datetime(2023, 12, 31, tzinfo=UTC)
    return SyntheticProvider(seed=7).bars("AAA", start, end, Timeframe.D1)


class Peeking(ArraySignalStrategy):
    """Long when tomorrow's close is higher, out when it is not: reads bar i + 1 at bar i."""

    name = "peeking_test"

    def signal_codes(self, data: BarArrays, config: StrategyConfig) -> np.ndarray:
        codes = np.full(len(data), NO_SIGNAL, dtype=np.int8)
        codes[:-1] = np.where(data.close[1:] > data.close[:-1], SIGNAL_LONG, SIGNAL_FLAT)
        return codes


class IndicatedMomentum(Momentum):
    """Momentum that shows its averages, and (with peek=True) a centred 7-bar mean too."""

    peek = False

    def signal_codes(self, data: BarArrays, config: StrategyConfig) -> np.ndarray:
        self.averages = {
            "fast": talib.SMA(data.close, self.params.fast),
            "slow": talib.SMA(data.close, self.params.slow),
        }
        if self.peek:
            self.averages["centred"] = pd.Series(data.close).rolling(7, center=True).mean().to_numpy()
        return super().signal_codes(data, config)

    def indicators(self) -> dict[str, np.ndarray]:
        return self.averages


class IndicatedMeanReversion(MeanReversion):
    """Mean reversion that shows TA-Lib's Bollinger bands, RSI and an EMA (recursive ones)."""

    def indicators(self) -> dict[str, np.ndarray]:
        close = self.data.close
        upper, middle, lower = talib.BBANDS(close, 20, 2.0, 2.0)
        return {
            "upper": upper,
            "middle": middle,
            "lower": lower,
            "rsi": talib.RSI(close, 14),
            "ema": talib.EMA(close, 30),
        }


def config(strategy: str = "momentum") -> StrategyConfig:
    return StrategyConfig(strategy=strategy, universe=["AAA"])


@pytest.mark.parametrize("name", ["momentum", "mean_reversion"])
def test_builtin_strategies_are_clean(bars, name):
    report = lookahead_check(config(name), bars)

    assert report.cuts == [250, 300, 350, 400, 450]
    assert report.findings == []
    assert report.clean


def test_the_checked_strategies_do_signal_before_the_cuts(bars):
    # The clean reports above mean something: both strategies signal within the first 250 bars,
    # and their indicators are compared too.
    expected = {"momentum": {"sma_fast", "sma_slow"}, "mean_reversion": {"upper", "middle", "lower", "rsi"}}
    for strategy in (Momentum(config("momentum")), MeanReversion(config("mean_reversion"))):
        strategy.bind({"AAA": bars})
        assert np.count_nonzero(strategy.codes["AAA"][:250]) >= 5
        indicators = strategy.indicators()
        assert set(indicators) == expected[strategy.name]
        assert all(len(values) == len(bars) for values in indicators.values())


def test_a_strategy_that_reads_the_next_bar_is_flagged_at_the_last_bar_before_each_cut(bars):
    close = bars["close"].to_numpy()

    report = lookahead_check(lambda: Peeking(config("peeking_test")), bars, cuts=[300, 100, 400])

    # The full run knows close[cut] at bar cut - 1; the truncated run has no next bar to read.
    def direction(cut: int) -> str:
        return "long" if close[cut] > close[cut - 1] else "flat"

    assert report.cuts == [100, 300, 400]
    assert report.findings == [
        LookaheadFinding(cut, cut - 1, "signals", repr([("AAA", direction(cut))]), "[]")
        for cut in (100, 300, 400)
    ]
    assert not report.clean


def test_causal_talib_indicators_are_identical_on_a_prefix(bars):
    momentum = lookahead_check(lambda: IndicatedMomentum(config()), bars)
    reversion = lookahead_check(lambda: IndicatedMeanReversion(config("mean_reversion")), bars)

    assert momentum.findings == []
    assert reversion.findings == []


def test_an_indicator_that_reads_ahead_is_flagged_at_its_first_difference(bars):
    class Centred(IndicatedMomentum):
        peek = True

    close = bars["close"].to_numpy()

    report = lookahead_check(lambda: Centred(config()), bars, cuts=[200])

    # The centred mean at bar i averages closes i - 3 .. i + 3: the prefix's last full window is at
    # bar 196; the full run's value at 197 is a number, the prefix's NaN. It comes before any
    # signal difference (there is none: momentum does not read it).
    [finding] = report.findings
    assert (finding.cut, finding.bar, finding.what, finding.truncated) == (
        200,
        197,
        "indicator centred",
        "nan",
    )
    assert finding.full == "42.98"  # pandas' rolling sum of close[194:201] / 7
    assert float(finding.full) == pytest.approx(np.mean(close[194:201]), rel=1e-12)


def test_on_one_bar_the_indicator_is_reported_before_the_signals_it_moves(bars):
    class PeekingWithIndicator(Peeking):
        def indicators(self) -> dict[str, np.ndarray]:
            return {"next_close": np.append(self.data.close[1:], np.nan)}

    close = bars["close"].to_numpy()

    report = lookahead_check(lambda: PeekingWithIndicator(config("peeking_test")), bars, cuts=[300])

    assert report.findings == [
        LookaheadFinding(300, 299, "indicator next_close", repr(float(close[300])), "nan")
    ]


@pytest.mark.parametrize("cuts", [[0], [501], [100, 600]])
def test_cuts_must_leave_some_bars_on_each_side(bars, cuts):
    with pytest.raises(InvalidInput, match="a cut must leave 1 to 500 of the 501 bars"):
        lookahead_check(config(), bars, cuts=cuts)
