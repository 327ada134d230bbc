"""The built-in strategies: momentum, mean reversion, and buy-and-hold (the benchmark).

Each states its signals as arrays computed once in initialize (every value from bars up to its
own), so generate_signals reads them and the compiled fast path can run them too.
"""

from abc import abstractmethod
from functools import cached_property

import numpy as np
import talib
from pydantic import BaseModel, ConfigDict, Field, model_validator

from marketdata.core.bars import BarArrays
from strategies.core.base import (
    NO_SIGNAL,
    SIGNAL_FLAT,
    SIGNAL_LONG,
    SIGNAL_SHORT,
    Strategy,
    crossed_above_all,
)
from strategies.core.config import StrategyConfig
from strategies.core.registry import register
from strategies.core.types import Direction, PortfolioState, Signal

DIRECTIONS = {SIGNAL_LONG: Direction.LONG, SIGNAL_SHORT: Direction.SHORT, SIGNAL_FLAT: Direction.FLAT}


class ArraySignalStrategy(Strategy):
    """A strategy whose signal at each bar is a code of an array computed in initialize."""

    reasons: dict[int, str] = {}

    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        self._indicators: dict[str, dict[str, np.ndarray]] = {}

    def initialize(self, config: StrategyConfig) -> None:
        self._indicators.clear()
        self.codes = {symbol: self.signal_codes(data, config) for symbol, data in self.datas.items()}
        self.__dict__.pop("_signal_lists", None)

    @cached_property
    def _signal_lists(self) -> dict[str, list[Signal | None]]:
        """Per symbol, the signal of every bar (None for none), built once for the bar-by-bar loop
        (the fast path never needs them)."""
        lists = {}
        for symbol, codes in self.codes.items():
            signal_of = {
                code: Signal(symbol, d, self.reasons.get(code, "")) for code, d in DIRECTIONS.items()
            }
            signal_of[NO_SIGNAL] = None
            lists[symbol] = list(map(signal_of.__getitem__, codes.tolist()))
        return lists

    @abstractmethod
    def signal_codes(self, data: BarArrays, config: StrategyConfig) -> np.ndarray:
        """An int8 code per bar (NO_SIGNAL, SIGNAL_LONG, SIGNAL_SHORT, SIGNAL_FLAT)."""

    def generate_signals(self, state: PortfolioState) -> list[Signal]:
        signals = []
        lists = self._signal_lists
        for symbol, i in self.bar_index.items():
            signal = lists[symbol][i]
            if signal is not None:
                signals.append(signal)
        return signals

    def signal_arrays(self) -> dict[str, np.ndarray]:
        return dict(self.codes)

    def indicators(self) -> dict[str, np.ndarray]:
        """The first symbol's indicators, one value per bar (what the lookahead check compares)."""
        return dict(self._indicators.get(self.symbol, {}))

    def keep_indicators(self, symbol: str, **values: np.ndarray) -> None:
        self._indicators[symbol] = values


class MomentumParameters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fast: int = Field(10, ge=1)
    slow: int = Field(20, ge=2)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> "MomentumParameters":
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be below slow ({self.slow})")
        return self


@register
class Momentum(ArraySignalStrategy):
    """SMA crossover: long when the fast average crosses above the slow one (below at the bar
    before, above at this bar, as backtesting.py's crossover), out (or short, when shorting is
    allowed) when it crosses below."""

    name = "momentum"
    Parameters = MomentumParameters
    reasons = {
        SIGNAL_LONG: "fast above slow",
        SIGNAL_FLAT: "fast below slow",
        SIGNAL_SHORT: "fast below slow",
    }

    def signal_codes(self, data: BarArrays, config: StrategyConfig) -> np.ndarray:
        fast, slow = talib.SMA(data.close, self.params.fast), talib.SMA(data.close, self.params.slow)
        self.keep_indicators(data.symbol, sma_fast=fast, sma_slow=slow)
        codes = np.full(len(data), NO_SIGNAL, dtype=np.int8)
        codes[crossed_above_all(slow, fast)] = SIGNAL_SHORT if config.risk.allow_short else SIGNAL_FLAT
        codes[crossed_above_all(fast, slow)] = SIGNAL_LONG
        return codes


class MeanReversionParameters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    period: int = Field(20, ge=2)
    band_std: float = Field(2.0, gt=0)
    rsi_period: int = Field(14, ge=2)
    rsi_entry: float = Field(30.0, gt=0, lt=100)


@register
class MeanReversion(ArraySignalStrategy):
    """Bollinger/RSI reversion: long when the close is below the lower band and RSI is oversold,
    out when the close gets back to the middle band; shorts mirror it when allowed."""

    name = "mean_reversion"
    Parameters = MeanReversionParameters
    reasons = {
        SIGNAL_LONG: "below the lower band, oversold",
        SIGNAL_SHORT: "above the upper band, overbought",
        SIGNAL_FLAT: "back at the mean",
    }

    def signal_codes(self, data: BarArrays, config: StrategyConfig) -> np.ndarray:
        p = self.params
        upper, middle, lower = talib.BBANDS(data.close, p.period, p.band_std, p.band_std)
        rsi = talib.RSI(data.close, p.rsi_period)
        self.keep_indicators(data.symbol, upper=upper, middle=middle, lower=lower, rsi=rsi)
        close = data.close
        codes = np.full(len(data), NO_SIGNAL, dtype=np.int8)
        # Exit when the close reaches the mean from either side.
        back_up = np.zeros(len(data), dtype=bool)
        back_up[1:] = (close[:-1] < middle[:-1]) & (close[1:] >= middle[1:])
        back_down = np.zeros(len(data), dtype=bool)
        back_down[1:] = (close[:-1] > middle[:-1]) & (close[1:] <= middle[1:])
        codes[back_up | back_down] = SIGNAL_FLAT
        codes[(close < lower) & (rsi < p.rsi_entry)] = SIGNAL_LONG
        if config.risk.allow_short:
            codes[(close > upper) & (rsi > 100 - p.rsi_entry)] = SIGNAL_SHORT
        return codes


@register
class BuyAndHold(ArraySignalStrategy):
    """Buy on the first bar and hold: the benchmark."""

    name = "buy_and_hold"
    reasons = {SIGNAL_LONG: "buy and hold"}

    def signal_codes(self, data: BarArrays, config: StrategyConfig) -> np.ndarray:
        codes = np.full(len(data), NO_SIGNAL, dtype=np.int8)
        codes[:1] = SIGNAL_LONG
        return codes
