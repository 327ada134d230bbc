"""The Strategy plugin interface (the seed's, exactly) and the default signal-to-order sizing."""

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import talib
from pydantic import BaseModel, ConfigDict, ValidationError

from marketdata.core.bars import BarArrays
from marketdata.core.errors import InvalidInput, validation_message
from strategies.core.config import StrategyConfig
from strategies.core.types import (
    Direction,
    Fill,
    Order,
    PortfolioState,
    PortfolioView,
    PriceBar,
    Side,
    Signal,
)

# Codes of a strategy's signal arrays (its fast path): one per bar, what generate_signals says then.
NO_SIGNAL, SIGNAL_LONG, SIGNAL_SHORT, SIGNAL_FLAT = 0, 1, 2, 3


class NoParameters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parameters_validate(model: type[BaseModel], parameters: Mapping[str, Any], strategy: str) -> BaseModel:
    """A strategy's parameters validated by its Parameters model; bad ones name the parameter."""
    try:
        return model.model_validate(parameters)
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc, f"strategy {strategy!r} parameters")) from None


class Strategy(ABC):
    """A trading strategy.

    The engine calls, in this order: initialize(config) once (after binding the data, so indicators
    can be computed here over whole arrays, as long as each value only uses bars up to its own);
    then at every timestamp: on_market_data(bar) for each symbol's bar, generate_signals(state)
    once, risk_check(signals, portfolio) to turn signals into orders; on_fill(fill) for each fill;
    daily_close() after the last bar of each session. At bar i, nothing may read bars after i.
    """

    name: ClassVar[str]
    Parameters: ClassVar[type[BaseModel]] = NoParameters

    def __init__(self, config: StrategyConfig) -> None:
        self.config = config
        self.params = parameters_validate(self.Parameters, config.parameters, self.name)
        self.datas: dict[str, BarArrays] = {}
        self.bar_index: dict[str, int] = {}  # each symbol's latest bar, kept by the engine
        self._atr: dict[str, np.ndarray] = {}

    # --- lifecycle -----------------------------------------------------------------------------

    def bind(self, data: Mapping[str, pd.DataFrame]) -> None:
        """Give the strategy its bars (a BarFrame per symbol), then initialize it."""
        self.bind_arrays({symbol: BarArrays.from_frame(symbol, frame) for symbol, frame in data.items()})

    def bind_arrays(self, datas: Mapping[str, BarArrays]) -> None:
        """bind() for bars already as arrays (a parameter grid shares them between its strategies)."""
        self.datas = dict(datas)
        if self.config.sizing.mode == "atr_risk":
            period = self.config.sizing.atr_period
            self._atr = {s: talib.ATR(d.high, d.low, d.close, period) for s, d in self.datas.items()}
        self.initialize(self.config)

    @property
    def symbols(self) -> list[str]:
        return list(self.datas)

    @property
    def symbol(self) -> str:
        return next(iter(self.datas))

    @property
    def data(self) -> BarArrays:
        """The bars of the first (usually only) symbol."""
        return self.datas[self.symbol]

    # --- the seed's interface ------------------------------------------------------------------

    @abstractmethod
    def initialize(self, config: StrategyConfig) -> None:
        """Precompute what the strategy needs (indicators over whole arrays are fine)."""

    def on_market_data(self, bar: PriceBar) -> None:
        """A new bar of one symbol; the default keeps nothing (indicators were precomputed)."""

    @abstractmethod
    def generate_signals(self, state: PortfolioState) -> list[Signal]:
        """Signals at state.bar_index, from bars up to and including it."""

    def risk_check(self, signals: list[Signal], portfolio: PortfolioView) -> list[Order]:
        """Turn signals into orders with the config's sizing and caps (see orders_for_signal)."""
        orders: list[Order] = []
        for signal in signals:
            orders.extend(self.orders_for_signal(signal, portfolio))
        return orders

    def on_fill(self, fill: Fill) -> None:
        """One of the strategy's orders (partly) filled."""

    def daily_close(self) -> None:
        """The session ended."""

    # --- beyond the seed's interface -----------------------------------------------------------

    def learn(self, datas: Mapping[str, BarArrays], start: datetime, end: datetime) -> None:
        """For strategies that learn from history (a model): learn from the bars from start to end
        (datas may hold earlier ones, for warm-up) and from nothing known only after end. A
        walk-forward calls it with each window's in-sample span before the out-of-sample one is
        traded. The default learns nothing."""

    def describe(self) -> dict[str, Any]:
        """What the strategy adds to its backtest's metadata (a model's lineage and importance)."""
        return {}

    # --- what the engine needs to call --------------------------------------------------------

    @property
    def reads_bars(self) -> bool:
        """Whether on_market_data does anything (else the engine builds no bar objects for it)."""
        return type(self).on_market_data is not Strategy.on_market_data

    @property
    def closes_sessions(self) -> bool:
        """Whether daily_close does anything."""
        return type(self).daily_close is not Strategy.daily_close

    @property
    def custom_risk_check(self) -> bool:
        """Whether risk_check is the strategy's own (the fast path applies the default sizing only)."""
        return type(self).risk_check is not Strategy.risk_check

    # --- fast path -----------------------------------------------------------------------------

    def signal_arrays(self) -> dict[str, np.ndarray] | None:
        """For strategies whose signals are a pure function of the bars: per symbol, an int8 array of
        NO_SIGNAL / SIGNAL_LONG / SIGNAL_SHORT / SIGNAL_FLAT that equals, bar for bar, what
        generate_signals emits. The engine then may run the compiled kernel. None: no fast path."""
        return None

    # --- sizing --------------------------------------------------------------------------------

    def orders_for_signal(self, signal: Signal, portfolio: PortfolioView) -> list[Order]:
        """Long: close a short, then open a long if flat. Short (when allowed): the mirror. Flat:
        close what is held. A signal for the position already held does nothing."""
        held = portfolio.position(signal.symbol)
        orders: list[Order] = []
        if (
            signal.direction is Direction.FLAT
            or (held < 0 and signal.direction is Direction.LONG)
            or (held > 0 and signal.direction is Direction.SHORT)
        ):
            if held:
                side = Side.SELL if held > 0 else Side.BUY
                orders.append(
                    Order(signal.symbol, side, qty=abs(held), reduce_only=True, reason=signal.reason)
                )
            held = 0.0
        if signal.direction is Direction.SHORT and not self.config.risk.allow_short:
            return orders
        if signal.direction is not Direction.FLAT and held == 0:
            side = Side.BUY if signal.direction is Direction.LONG else Side.SELL
            opening = self.opening_order(signal.symbol, side, portfolio, signal.reason)
            if opening is not None:
                orders.append(opening)
        return orders

    def opening_order(self, symbol: str, side: Side, portfolio: PortfolioView, reason: str) -> Order | None:
        sizing, caps = self.config.sizing, self.config.risk
        price = portfolio.price(symbol)
        cap_money = None if caps.max_position_pct is None else portfolio.equity * caps.max_position_pct / 100
        common = {"whole_shares": sizing.whole_shares, "reason": reason}
        if sizing.mode == "equity_fraction" and cap_money is None:
            return Order(symbol, side, equity_fraction=sizing.value, **common)
        if sizing.mode == "equity_fraction":
            money = min(sizing.value * portfolio.equity, cap_money)
        elif sizing.mode == "notional":
            money = sizing.value
        elif sizing.mode == "fixed_fractional":
            money = sizing.value * portfolio.equity
        else:
            money = None
        if money is not None:
            money = money if cap_money is None else min(money, cap_money)
            return Order(symbol, side, notional=money, **common) if money > 0 else None
        if sizing.mode == "qty":
            qty = sizing.value
        else:  # atr_risk: lose `value` of equity if the price moves atr_multiple ATRs against us
            atr = self._atr[symbol][self.bar_index[symbol]]
            if not atr > 0:
                return None
            qty = sizing.value * portfolio.equity / (sizing.atr_multiple * atr)
        if cap_money is not None and price > 0:
            qty = min(qty, cap_money / price)
        qty = math.floor(qty) if sizing.whole_shares else qty
        return Order(symbol, side, qty=qty, **common) if qty > 0 else None


def crossed_above_all(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """At every bar: a crossed above b (below at the bar before, above at this one; a tie is
    neither, as in backtesting.py's crossover)."""
    out = np.zeros(len(a), dtype=bool)
    out[1:] = (a[:-1] < b[:-1]) & (a[1:] > b[1:])  # NaN (an indicator's warm-up) compares False
    return out
