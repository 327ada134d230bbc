"""The built-in strategies: momentum, mean reversion, and buy-and-hold (the benchmark)."""

import numpy as np
import talib
from pydantic import BaseModel, ConfigDict, Field, model_validator

from strategies.core.base import (
    NO_SIGNAL,
    SIGNAL_FLAT,
    SIGNAL_LONG,
    SIGNAL_SHORT,
    Strategy,
    crossed_above,
    crossed_above_all,
)
from strategies.core.config import StrategyConfig
from strategies.core.registry import register
from strategies.core.types import PortfolioState, Signal


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
class Momentum(Strategy):
    """SMA crossover: long when the fast average crosses above the slow one, out (or short, when
    shorting is allowed) when it crosses below."""

    name = "momentum"
    Parameters = MomentumParameters

    def initialize(self, config: StrategyConfig) -> None:
        self.fast = {s: talib.SMA(d.close, self.params.fast) for s, d in self.datas.items()}
        self.slow = {s: talib.SMA(d.close, self.params.slow) for s, d in self.datas.items()}
        self.down = SIGNAL_SHORT if config.risk.allow_short else SIGNAL_FLAT

    def generate_signals(self, state: PortfolioState) -> list[Signal]:
        signals = []
        for symbol, i in self.bar_index.items():
            fast, slow = self.fast[symbol], self.slow[symbol]
            if crossed_above(fast, slow, i):
                signals.append(Signal.enter_long(symbol, "fast above slow"))
            elif crossed_above(slow, fast, i):
                down = Signal.enter_short if self.down == SIGNAL_SHORT else Signal.exit
                signals.append(down(symbol, "fast below slow"))
        return signals

    def signal_arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for symbol in self.datas:
            codes = np.full(len(self.fast[symbol]), NO_SIGNAL, dtype=np.int8)
            codes[crossed_above_all(self.slow[symbol], self.fast[symbol])] = self.down
            codes[crossed_above_all(self.fast[symbol], self.slow[symbol])] = SIGNAL_LONG
            out[symbol] = codes
        return out


class MeanReversionParameters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    period: int = Field(20, ge=2)
    band_std: float = Field(2.0, gt=0)
    rsi_period: int = Field(14, ge=2)
    rsi_entry: float = Field(30.0, gt=0, lt=100)


@register
class MeanReversion(Strategy):
    """Bollinger/RSI reversion: long when the close is below the lower band and RSI is oversold,
    out when the close gets back to the middle band; shorts mirror it when allowed."""

    name = "mean_reversion"
    Parameters = MeanReversionParameters

    def initialize(self, config: StrategyConfig) -> None:
        p = self.params
        self.codes = {}
        for symbol, d in self.datas.items():
            upper, middle, lower = talib.BBANDS(d.close, p.period, p.band_std, p.band_std)
            rsi = talib.RSI(d.close, p.rsi_period)
            codes = np.full(len(d), NO_SIGNAL, dtype=np.int8)
            with np.errstate(invalid="ignore"):
                above_mean = d.close >= middle
                below_mean = d.close <= middle
                # Exit when the close reaches the mean from either side.
                exit_long = np.zeros(len(d), dtype=bool)
                exit_long[1:] = (d.close[:-1] < middle[:-1]) & above_mean[1:]
                exit_short = np.zeros(len(d), dtype=bool)
                exit_short[1:] = (d.close[:-1] > middle[:-1]) & below_mean[1:]
                codes[exit_long | exit_short] = SIGNAL_FLAT
                codes[(d.close < lower) & (rsi < p.rsi_entry)] = SIGNAL_LONG
                if config.risk.allow_short:
                    codes[(d.close > upper) & (rsi > 100 - p.rsi_entry)] = SIGNAL_SHORT
            self.codes[symbol] = codes

    def generate_signals(self, state: PortfolioState) -> list[Signal]:
        signals = []
        for symbol, i in self.bar_index.items():
            code = self.codes[symbol][i]
            if code == SIGNAL_LONG:
                signals.append(Signal.enter_long(symbol, "below the lower band, oversold"))
            elif code == SIGNAL_SHORT:
                signals.append(Signal.enter_short(symbol, "above the upper band, overbought"))
            elif code == SIGNAL_FLAT:
                signals.append(Signal.exit(symbol, "back at the mean"))
        return signals

    def signal_arrays(self) -> dict[str, np.ndarray]:
        return dict(self.codes)


@register
class BuyAndHold(Strategy):
    """Buy on the first bar and hold: the benchmark."""

    name = "buy_and_hold"

    def initialize(self, config: StrategyConfig) -> None:
        pass

    def generate_signals(self, state: PortfolioState) -> list[Signal]:
        return [Signal.enter_long(s, "buy and hold") for s, i in self.bar_index.items() if i == 0]

    def signal_arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for symbol, d in self.datas.items():
            codes = np.full(len(d), NO_SIGNAL, dtype=np.int8)
            codes[:1] = SIGNAL_LONG
            out[symbol] = codes
        return out
