"""The built-in features: each a kind with parameters, its output columns and its warm-up.

A kind computes from a symbol's bars (float64 arrays, oldest first) one array per output column,
every value from bars up to its own (TA-Lib, or rolling windows that look back only), so a
feature computed on bars[:t] equals the whole computation at every row before t. Its warm-up is
the number of first rows that have too little history: they are NaN. For indicators smoothed
exponentially (RSI, MACD, ATR, ADX), whose first value seeds every later one, the warm-up adds
three smoothing periods to TA-Lib's own look-back: by then the seed weighs under 5% (Wilder's
(1 - 1/n)^3n is about e^-3).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import talib
from pydantic import BaseModel, ConfigDict, Field, model_validator

from marketdata.core.bars import BarArrays

Columns = dict[str, np.ndarray]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(_Params):
    period: int = Field(14, ge=2)


class AverageParams(_Params):
    period: int = Field(50, ge=2)


class MacdParams(_Params):
    fast: int = Field(12, ge=2)
    slow: int = Field(26, ge=3)
    signal: int = Field(9, ge=1)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> "MacdParams":
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be below slow ({self.slow})")
        return self


class BollingerParams(_Params):
    period: int = Field(20, ge=2)
    width: float = Field(2.0, gt=0)  # standard deviations from the middle band


class StochasticParams(_Params):
    k: int = Field(14, ge=1)
    k_smooth: int = Field(3, ge=1)
    d: int = Field(3, ge=1)


class Horizon(_Params):
    horizon: int = Field(1, ge=1)


class Window(_Params):
    window: int = Field(20, ge=2)


class ZScoreParams(_Params):
    window: int = Field(20, ge=2)
    field: str = Field("close", pattern="^(close|volume)$")


class NoParams(_Params):
    pass


@dataclass(frozen=True)
class Kind:
    """A built-in feature: its parameters, outputs (suffixes of the feature's name; "" for one
    output), computation and warm-up (rows of NaN at the start)."""

    params: type[_Params]
    outputs: tuple[str, ...]
    compute: Callable[[BarArrays, Any], Columns]
    warm_up: Callable[[Any], int]


def _rsi(bars: BarArrays, p: Period) -> Columns:
    return {"": talib.RSI(bars.close, p.period)}


def _macd(bars: BarArrays, p: MacdParams) -> Columns:
    line, signal, hist = talib.MACD(bars.close, p.fast, p.slow, p.signal)
    return {"line": line, "signal": signal, "hist": hist}


def _bollinger(bars: BarArrays, p: BollingerParams) -> Columns:
    upper, middle, lower = talib.BBANDS(bars.close, p.period, p.width, p.width)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct_b = np.where(upper > lower, (bars.close - lower) / (upper - lower), np.nan)
        bandwidth = (upper - lower) / middle
    return {"pct_b": pct_b, "bandwidth": bandwidth}


def _atr(bars: BarArrays, p: Period) -> Columns:
    atr = talib.ATR(bars.high, bars.low, bars.close, p.period)
    return {"": atr, "pct": atr / bars.close}


def _adx(bars: BarArrays, p: Period) -> Columns:
    return {"": talib.ADX(bars.high, bars.low, bars.close, p.period)}


def _obv(bars: BarArrays, p: Window) -> Columns:
    """On-balance volume's change over the window, over the volume traded in it: in [-1, 1] (the
    level of OBV depends on where the data starts; its change does not)."""
    obv = talib.OBV(bars.close, bars.volume)
    change = obv - _shifted(obv, p.window)
    traded = talib.SUM(bars.volume, p.window)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"": np.where(traded > 0, change / traded, 0.0)}


def _stochastic(bars: BarArrays, p: StochasticParams) -> Columns:
    k, d = talib.STOCH(bars.high, bars.low, bars.close, p.k, p.k_smooth, 0, p.d, 0)
    return {"k": k, "d": d}


def _returns(bars: BarArrays, p: Horizon) -> Columns:
    return {"": bars.close / _shifted(bars.close, p.horizon) - 1.0}


def _volatility(bars: BarArrays, p: Window) -> Columns:
    return {"": rolling_volatility(bars.close, p.window)}


def rolling_volatility(close: np.ndarray, window: int) -> np.ndarray:
    """The standard deviation (population) of the log returns of the last `window` bars, per bar;
    NaN until there are that many returns."""
    log_returns = np.log(close / _shifted(close, 1))
    return talib.STDDEV(log_returns, window, 1.0)


def _zscore(bars: BarArrays, p: ZScoreParams) -> Columns:
    values = getattr(bars, p.field)
    mean, spread = talib.SMA(values, p.window), talib.STDDEV(values, p.window, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"": np.where(spread > 0, (values - mean) / spread, 0.0)}


def _ma_distance(bars: BarArrays, p: AverageParams) -> Columns:
    return {"": bars.close / talib.SMA(bars.close, p.period) - 1.0}


def _calendar(bars: BarArrays, p: NoParams) -> Columns:
    return {
        "day_of_week": bars.ts.day_of_week.to_numpy(dtype="float64"),
        "month": bars.ts.month.to_numpy(dtype="float64"),
    }


def _shifted(values: np.ndarray, by: int) -> np.ndarray:
    """values moved `by` rows later; the first `by` rows NaN."""
    out = np.full_like(values, np.nan)
    out[by:] = values[: len(values) - by]
    return out


KINDS: Mapping[str, Kind] = {
    "rsi": Kind(Period, ("",), _rsi, lambda p: p.period + 3 * p.period),
    "macd": Kind(
        MacdParams,
        ("line", "signal", "hist"),
        _macd,
        lambda p: p.slow - 1 + p.signal - 1 + 3 * p.slow,
    ),
    "bollinger": Kind(BollingerParams, ("pct_b", "bandwidth"), _bollinger, lambda p: p.period - 1),
    "atr": Kind(Period, ("", "pct"), _atr, lambda p: p.period + 3 * p.period),
    "adx": Kind(Period, ("",), _adx, lambda p: 2 * p.period - 1 + 3 * p.period),
    "obv": Kind(Window, ("",), _obv, lambda p: p.window),
    "stochastic": Kind(
        StochasticParams, ("k", "d"), _stochastic, lambda p: p.k - 1 + p.k_smooth - 1 + p.d - 1
    ),
    "returns": Kind(Horizon, ("",), _returns, lambda p: p.horizon),
    "volatility": Kind(Window, ("",), _volatility, lambda p: p.window),
    "zscore": Kind(ZScoreParams, ("",), _zscore, lambda p: p.window - 1),
    "ma_distance": Kind(AverageParams, ("",), _ma_distance, lambda p: p.period - 1),
    "calendar": Kind(NoParams, ("day_of_week", "month"), _calendar, lambda p: 0),
}
