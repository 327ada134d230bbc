"""Statistics that tell a real edge from a lucky search, and a check that a strategy does not peek.

- deflated_sharpe: the Deflated Sharpe Ratio, the probability that the chosen strategy's true
  Sharpe ratio beats the best one expected from as many skill-less trials (Bailey and López de
  Prado, "The Deflated Sharpe Ratio: Correcting for Selection Bias, Backtest Overfitting and
  Non-Normality", Journal of Portfolio Management 40(5), 2014).
- probability_of_backtest_overfitting: combinatorially symmetric cross-validation, how often the
  in-sample best of a set of trials ends in the bottom half out of sample (Bailey, Borwein, López de
  Prado and Zhu, "The Probability of Backtest Overfitting", Journal of Computational Finance 20(4),
  2017).
- lookahead_check: runs a strategy on prefixes of its bars; a strategy that reads only bars up to
  the current one says on a prefix exactly what it said on the whole.
"""

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import NormalDist

import numpy as np
import pandas as pd

from backtests.core.engine import BacktestEngine
from backtests.core.results import BacktestConfig
from marketdata.core.errors import InvalidInput
from strategies.core.base import Strategy
from strategies.core.config import StrategyConfig
from strategies.core.registry import strategy_build
from strategies.core.types import PortfolioState, Signal

_NORMAL = NormalDist()
SPLITS_AT_ONCE = 1024

# --- Deflated Sharpe Ratio ---------------------------------------------------------------------


@dataclass(frozen=True)
class DeflatedSharpe:
    sharpe: float  # per-bar (not annualised) Sharpe ratio of the chosen returns: mean / std(ddof=1)
    expected_max_sharpe: float  # SR0: the highest per-bar Sharpe expected among `trials` skill-less trials
    trials: int
    trial_sharpe_variance: float  # variance (ddof=1) of the trials' per-bar Sharpe ratios
    skewness: float  # of the chosen returns
    kurtosis: float  # of the chosen returns, not excess (normal = 3)
    observations: int  # T, number of returns
    probability: float  # DSR = PSR(SR0): probability that the true Sharpe exceeds SR0

    def passes(self, confidence: float = 0.95) -> bool:
        return self.probability >= confidence


def expected_max_sharpe(trials: int, variance: float) -> float:
    """SR0, the expected highest Sharpe ratio of `trials` trials without skill whose Sharpe ratios
    have variance V:

        SR0 = sqrt(V) * ((1 - γ) Z⁻¹(1 - 1/N) + γ Z⁻¹(1 - 1/(N e)))

    with γ the Euler–Mascheroni constant and Z⁻¹ the inverse standard normal CDF. One trial is no
    selection at all: SR0 = 0."""
    if trials < 1:
        raise InvalidInput(f"the expected maximum Sharpe ratio needs at least one trial, not {trials}")
    if not (math.isfinite(variance) and variance >= 0):
        raise InvalidInput(f"the trials' Sharpe variance must be finite and >= 0, not {variance}")
    if trials == 1:
        return 0.0
    gamma = np.euler_gamma
    quantiles = (1 - gamma) * _NORMAL.inv_cdf(1 - 1 / trials) + gamma * _NORMAL.inv_cdf(
        1 - 1 / (trials * math.e)
    )
    return math.sqrt(variance) * quantiles


def psr(sharpe: float, benchmark: float, observations: int, skewness: float, kurtosis: float) -> float:
    """The Probabilistic Sharpe Ratio: the probability that the true Sharpe ratio exceeds
    `benchmark`, given a per-bar Sharpe ratio estimated from T observations with skewness γ3 and
    (non-excess) kurtosis γ4:

        PSR = Z((SR - SR*) sqrt(T - 1) / sqrt(1 - γ3 SR + (γ4 - 1) / 4 SR²))"""
    if observations < 2:
        raise InvalidInput(
            f"the probabilistic Sharpe ratio needs at least 2 observations, not {observations}"
        )
    radicand = 1 - skewness * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if not radicand > 0:
        raise InvalidInput(
            f"1 - skewness * SR + (kurtosis - 1) / 4 * SR² is {radicand:.6g}, not positive: these moments "
            f"(skewness {skewness:.6g}, kurtosis {kurtosis:.6g}, SR {sharpe:.6g}) leave the Sharpe ratio "
            "no standard error (real returns have kurtosis >= 1 + skewness², two-valued ones can hit 0)"
        )
    z = (sharpe - benchmark) * math.sqrt(observations - 1) / math.sqrt(radicand)
    return _NORMAL.cdf(z)


def deflated_sharpe(
    returns: Sequence[float] | np.ndarray, trial_sharpes: Sequence[float] | np.ndarray
) -> DeflatedSharpe:
    """The Deflated Sharpe Ratio of the chosen strategy's per-bar `returns`, picked as the best of
    the trials whose per-bar Sharpe ratios are `trial_sharpes` (the chosen one included): PSR
    against SR0 = expected_max_sharpe(N, var(trial_sharpes, ddof=1)), with the returns' population
    (biased) skewness and kurtosis, as in the paper."""
    chosen = _finite_vector(returns, "returns")
    trials = _finite_vector(trial_sharpes, "trial Sharpe ratios")
    if len(trials) < 2:
        raise InvalidInput(f"the deflated Sharpe ratio needs at least 2 trials, not {len(trials)}")
    if len(chosen) < 3:
        raise InvalidInput(f"the deflated Sharpe ratio needs at least 3 returns, not {len(chosen)}")
    if np.ptp(chosen) == 0:
        raise InvalidInput("the returns are constant: zero standard deviation, no Sharpe ratio")
    sharpe = float(chosen.mean() / chosen.std(ddof=1))
    variance = float(trials.var(ddof=1))
    benchmark = expected_max_sharpe(len(trials), variance)
    deviations = chosen - chosen.mean()
    variance_of_returns = float(np.mean(deviations**2))
    skewness = float(np.mean(deviations**3)) / variance_of_returns**1.5
    kurtosis = float(np.mean(deviations**4)) / variance_of_returns**2
    return DeflatedSharpe(
        sharpe=sharpe,
        expected_max_sharpe=benchmark,
        trials=len(trials),
        trial_sharpe_variance=variance,
        skewness=skewness,
        kurtosis=kurtosis,
        observations=len(chosen),
        probability=psr(sharpe, benchmark, len(chosen), skewness, kurtosis),
    )


def _finite_vector(values: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise InvalidInput(f"the {what} must be one-dimensional, not of shape {array.shape}")
    if not np.isfinite(array).all():
        raise InvalidInput(f"the {what} contain NaN or infinite values")
    return array


# --- Probability of Backtest Overfitting -------------------------------------------------------

# Metric of a split half: a (rows x N) matrix of returns in time order -> one value per column.
Metric = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class BacktestOverfitting:
    pbo: float  # share of splits where the in-sample best ranks at or below the OOS median (logit <= 0)
    logits: np.ndarray  # one per split: ln(w / (1 - w)), w = relative OOS rank of the IS-best in (0, 1)
    splits: int  # C(S, S/2)
    partitions: int  # S
    degradation: tuple[
        np.ndarray, np.ndarray
    ]  # (IS performance of the IS-best, its OOS performance) per split
    probability_of_loss: float  # share of splits where the IS-best's OOS performance is < 0


def probability_of_backtest_overfitting(
    trial_returns: np.ndarray, partitions: int = 16, metric: Metric | None = None
) -> BacktestOverfitting:
    """PBO by combinatorially symmetric cross-validation.

    `trial_returns` is T x N: per-bar returns, rows in time order, one column per trial (parameter
    set). The first T mod S rows are dropped so the rest splits into S contiguous blocks of equal
    length. Each of the C(S, S/2) ways to pick S/2 blocks is one split: those blocks are in-sample,
    the others (in time order) out-of-sample. In each, n* = the column with the best IS metric (the
    first on a tie); r = its rank among the N OOS metrics (1 = worst, ties get their average rank);
    w = r / (N + 1); λ = ln(w / (1 - w)). PBO = the share of splits with λ <= 0.

    The metric defaults to the per-bar Sharpe ratio, mean / std(ddof=1), computed from block sums
    for SPLITS_AT_ONCE splits at a time; a half in which a column is constant (its variance under 1e-12 of its
    mean square, i.e. rounding) scores 0. A custom metric is called twice per split: slower."""
    returns = _returns_matrix(trial_returns, partitions)
    blocks = returns.reshape(partitions, -1, returns.shape[1])
    in_sample = _in_sample_blocks(partitions)
    # A thousand splits at a time: their figures stay in the processor's cache.
    parts = [
        _ranked(*halves)
        for halves in (
            _sharpe_of_halves(blocks, chosen) if metric is None else _metric_of_halves(blocks, chosen, metric)
            for chosen in np.array_split(in_sample, -(-len(in_sample) // SPLITS_AT_ONCE))
        )
    ]
    rank, is_of_best, oos_of_best = (np.concatenate(column) for column in zip(*parts, strict=True))
    relative = rank / (returns.shape[1] + 1)
    logits = np.log(relative / (1 - relative))
    return BacktestOverfitting(
        pbo=float(np.mean(logits <= 0)),
        logits=logits,
        splits=len(in_sample),
        partitions=partitions,
        degradation=(is_of_best, oos_of_best),
        probability_of_loss=float(np.mean(oos_of_best < 0)),
    )


def _ranked(is_perf: np.ndarray, oos_perf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per split (a row): the OOS rank of the IS-best (the first on a tie; 1 is the worst, ties
    share their average rank), and the IS-best's IS and OOS values."""
    splits = np.arange(len(is_perf))
    best = np.argmax(is_perf, axis=1)
    is_of_best, oos_of_best = is_perf[splits, best], oos_perf[splits, best]
    below = np.count_nonzero(oos_perf < oos_of_best[:, None], axis=1)
    tied = np.count_nonzero(oos_perf == oos_of_best[:, None], axis=1)
    return below + (tied + 1) / 2, is_of_best, oos_of_best


@functools.cache
def _in_sample_blocks(partitions: int) -> np.ndarray:
    """Every way to pick half of the partitions, a row each: C(S, S/2) x S/2 (read-only, shared)."""
    chosen = np.array(list(itertools.combinations(range(partitions), partitions // 2)))
    chosen.flags.writeable = False
    return chosen


def _returns_matrix(trial_returns: np.ndarray, partitions: int) -> np.ndarray:
    """The returns as a float matrix without its first T mod S rows, after checking them."""
    returns = np.asarray(trial_returns, dtype=float)
    if returns.ndim != 2:
        raise InvalidInput(f"trial returns must be a T x N matrix, not of shape {returns.shape}")
    if partitions < 2 or partitions % 2:
        raise InvalidInput(f"the number of partitions must be even and at least 2, not {partitions}")
    rows, trials = returns.shape
    if trials < 2:
        raise InvalidInput(f"overfitting needs at least 2 trials (columns), not {trials}")
    if rows < 2 * partitions:
        raise InvalidInput(f"{rows} bars are too few for {partitions} partitions: at least {2 * partitions}")
    if not np.isfinite(returns).all():
        raise InvalidInput("the trial returns contain NaN or infinite values")
    return returns[rows % partitions :]


def _sharpe_of_halves(blocks: np.ndarray, in_sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(IS, OOS) per-bar Sharpe ratios, splits x N, from each block's sums of returns and squares:
    a half's sums are its blocks' sums, the other half's the totals less them. (Summed, not
    multiplied by a 0/1 matrix: a matrix product would start BLAS threads, which spin on cores
    that other workers need.)"""
    sums, squares = blocks.sum(axis=1), (blocks**2).sum(axis=1)
    is_sums, is_squares = sums[in_sample[:, 0]], squares[in_sample[:, 0]]
    for block in in_sample.T[1:]:
        is_sums += sums[block]
        is_squares += squares[block]
    oos_sums, oos_squares = sums.sum(axis=0) - is_sums, squares.sum(axis=0) - is_squares
    rows = blocks.shape[1] * in_sample.shape[1]
    return _sharpe_from_sums(is_sums, is_squares, rows), _sharpe_from_sums(oos_sums, oos_squares, rows)


def _sharpe_from_sums(sums: np.ndarray, squares: np.ndarray, rows: int) -> np.ndarray:
    """mean / std(ddof=1) from S = Σx and Q = Σx² over n rows, i.e. S sqrt((n - 1) / n) /
    sqrt(nQ - S²), in place where it can (a 16-partition PBO of 90 sets computes twice 12,870 x 90
    of them); 0 where the returns are constant: a variance under 1e-12 of the mean square,
    nQ - S² <= 1e-12 (n - 1) Q, is rounding."""
    spread = rows * squares - sums * sums
    constant = spread <= 1e-12 * (rows - 1) * squares
    np.putmask(spread, constant, 1.0)
    np.sqrt(spread, out=spread)
    sharpe = sums * math.sqrt((rows - 1) / rows)
    sharpe /= spread
    np.putmask(sharpe, constant, 0.0)
    return sharpe


def _metric_of_halves(
    blocks: np.ndarray, in_sample: np.ndarray, metric: Metric
) -> tuple[np.ndarray, np.ndarray]:
    """(IS, OOS) values of a custom metric, splits x N, each half's blocks joined in time order."""
    partitions, _, trials = blocks.shape
    is_perf, oos_perf = np.empty((2, len(in_sample), trials))
    for split, chosen in enumerate(in_sample):
        others = np.setdiff1d(np.arange(partitions), chosen)
        is_perf[split] = _metric_values(metric, blocks[chosen].reshape(-1, trials))
        oos_perf[split] = _metric_values(metric, blocks[others].reshape(-1, trials))
    return is_perf, oos_perf


def _metric_values(metric: Metric, returns: np.ndarray) -> np.ndarray:
    values = np.asarray(metric(returns), dtype=float)
    if values.shape != (returns.shape[1],):
        raise InvalidInput(
            f"the metric must give one value per trial ({returns.shape[1]}), not {values.shape}"
        )
    if not np.isfinite(values).all():
        raise InvalidInput("the metric gave NaN or infinite values")
    return values


# --- Lookahead check ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LookaheadFinding:
    cut: int  # the truncated run used bars [0, cut)
    bar: int  # first bar (< cut) where the truncated run differs from the full run
    what: str  # "signals" or "indicator <name>"
    full: str  # what the full run had there (repr)
    truncated: str  # what the truncated run had


@dataclass(frozen=True)
class LookaheadReport:
    cuts: list[int]
    findings: list[LookaheadFinding]  # one at most per cut: the first difference

    @property
    def clean(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class _Trace:
    """What one run of a strategy said: per step its signals as (symbol, direction), and the
    arrays of its indicators() when it has that method."""

    signals: list[list[tuple[str, str]]]
    indicators: dict[str, np.ndarray]


CUT_FRACTIONS = (0.5, 0.6, 0.7, 0.8, 0.9)


def lookahead_check(
    strategy: StrategyConfig | Callable[[], Strategy],
    data: pd.DataFrame,
    *,
    cuts: Sequence[int] | None = None,
    backtest_config: BacktestConfig | None = None,
) -> LookaheadReport:
    """Backtest the strategy on all of `data` (one symbol's bars), then again on each prefix
    data[:cut], each time with a fresh strategy, and report per cut the first bar before it where
    the prefix run emitted other signals, or (for a strategy with a method
    `indicators() -> dict[str, array with one value per bar]`) had another indicator value, than
    the full run. A strategy that reads only bars up to the current one differs nowhere.

    `strategy` is a StrategyConfig (built through the registry) or a zero-argument factory of
    strategies (for classes that are not registered). Default cuts: 50, 60, 70, 80 and 90% of the
    bars. The backtest defaults to no commission and no slippage; its dates, if any, cut `data`
    first, so cuts and bars count the rows in its range."""
    config = backtest_config or BacktestConfig(commission_per_trade=Decimal(0), slippage_bps=Decimal(0))
    build = functools.partial(strategy_build, strategy) if isinstance(strategy, StrategyConfig) else strategy
    data = data.loc[config.start_date : config.end_date]
    cuts = _checked_cuts(len(data), cuts)
    full = _trace(build(), data, config)
    findings = []
    for cut in cuts:
        finding = _first_difference(cut, full, _trace(build(), data.iloc[:cut], config))
        if finding is not None:
            findings.append(finding)
    return LookaheadReport(cuts=cuts, findings=findings)


def _checked_cuts(bars: int, cuts: Sequence[int] | None) -> list[int]:
    chosen = sorted({int(bars * f) for f in CUT_FRACTIONS} if cuts is None else set(cuts))
    bad = [cut for cut in chosen if not 1 <= cut < bars]
    if bad:
        raise InvalidInput(f"a cut must leave 1 to {bars - 1} of the {bars} bars, not {bad}")
    return chosen


def _trace(strategy: Strategy, data: pd.DataFrame, config: BacktestConfig) -> _Trace:
    """Run the bar-by-bar loop, writing down the signals the engine gets at every step."""
    signals: list[list[tuple[str, str]]] = []
    generate = strategy.generate_signals

    def recording(state: PortfolioState) -> list[Signal]:
        emitted = generate(state)
        signals.append([(s.symbol, str(s.direction)) for s in emitted])
        return emitted

    # The engine reads the instance attribute: any strategy is recorded without touching its class.
    strategy.generate_signals = recording  # type: ignore[method-assign]
    BacktestEngine().run(strategy, data, config, fast=False)
    indicators = getattr(strategy, "indicators", None)
    arrays = {} if indicators is None else {k: np.asarray(v, dtype=float) for k, v in indicators().items()}
    return _Trace(signals, arrays)


def _first_difference(cut: int, full: _Trace, truncated: _Trace) -> LookaheadFinding | None:
    """The earliest bar where the runs differ; on one bar an indicator (the cause) comes before
    the signals (its effect)."""
    found = [
        _indicator_difference(cut, name, values, truncated.indicators[name])
        for name, values in full.indicators.items()
    ]
    found.append(_signal_difference(cut, full.signals, truncated.signals))
    differences = [f for f in found if f is not None]
    return min(differences, key=lambda f: f.bar) if differences else None


def _signal_difference(
    cut: int, full: list[list[tuple[str, str]]], truncated: list[list[tuple[str, str]]]
) -> LookaheadFinding | None:
    for bar, (whole, prefix) in enumerate(zip(full[:cut], truncated, strict=True)):
        if whole != prefix:
            return LookaheadFinding(cut, bar, "signals", repr(whole), repr(prefix))
    return None


def _indicator_difference(
    cut: int, name: str, full: np.ndarray, truncated: np.ndarray
) -> LookaheadFinding | None:
    """Exact comparison, NaN equal to NaN: a causal indicator does the same arithmetic on the
    prefix in the same order (TA-Lib's included), so its floats are bit-identical."""
    whole, prefix = full[:cut], truncated[:cut]
    differs = ~((whole == prefix) | (np.isnan(whole) & np.isnan(prefix)))
    if not differs.any():
        return None
    bar = int(np.argmax(differs))
    return LookaheadFinding(cut, bar, f"indicator {name}", repr(float(whole[bar])), repr(float(prefix[bar])))
