"""The vocabulary strategies speak: bars, signals, orders, fills and the portfolio they see.

These live at the strategy layer so that a strategy can build orders; risk and execution (the
layers above) take the same objects through checks, brokers and fills.
"""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple, Protocol

from marketdata.core.errors import InvalidInput


class PriceBar(NamedTuple):
    """One bar of one symbol, as the engine hands it to on_market_data (a named tuple: one is built
    per bar and symbol, so it must be cheap)."""

    symbol: str
    ts: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    index: int  # position of this bar in the symbol's data


class Direction(StrEnum):
    LONG = "long"
    SHORT = "short"
    FLAT = "flat"


class Signal(NamedTuple):
    """What a strategy wants for a symbol (a named tuple: cheap to build at every signal)."""

    symbol: str
    direction: Direction
    reason: str = ""
    strength: float = 1.0

    @classmethod
    def enter_long(cls, symbol: str, reason: str = "") -> "Signal":
        return cls(symbol, Direction.LONG, reason)

    @classmethod
    def enter_short(cls, symbol: str, reason: str = "") -> "Signal":
        return cls(symbol, Direction.SHORT, reason)

    @classmethod
    def exit(cls, symbol: str, reason: str = "") -> "Signal":
        return cls(symbol, Direction.FLAT, reason)


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    def __init__(self, value: str) -> None:
        self.sign = 1 if value == "buy" else -1  # an attribute: read at every fill


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"


class OrderStatus(StrEnum):
    NEW = "new"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    def __init__(self, value: str) -> None:
        # An attribute, not a property: read at every fill.
        self.terminal = value in {"filled", "canceled", "rejected", "expired"}


_order_numbers = itertools.count(1)


@dataclass(eq=False, slots=True)
class Order:
    """An order. Its size is one of: qty, notional (money), or equity_fraction (of the buying power
    at fill time, as backtesting.py's buy() does); the last two are turned into a quantity by the
    broker against the fill price."""

    symbol: str
    side: Side
    qty: float | None = None
    notional: float | None = None
    equity_fraction: float | None = None
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    stop_price: float | None = None
    tif: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False  # may only shrink a position (a close)
    stop_loss: float | None = None  # the protective stop of the position it opens: its risk
    whole_shares: bool = True
    reason: str = ""
    id: str = field(default_factory=lambda: f"o{next(_order_numbers)}")
    # Set by the broker
    status: OrderStatus = OrderStatus.NEW
    filled_qty: float = 0.0
    avg_fill_price: float = 0.0
    triggered: bool = False  # a stop order whose stop price was touched
    created_bar: int = -1

    def __post_init__(self) -> None:
        qty, notional, fraction = self.qty, self.notional, self.equity_fraction
        if (qty is not None) + (notional is not None) + (fraction is not None) != 1:
            raise InvalidInput("an order needs exactly one of qty, notional or equity_fraction")
        size = qty if qty is not None else notional if notional is not None else fraction
        if not size > 0:  # NaN too
            raise InvalidInput(f"order size must be positive, not {size}")
        if fraction is not None and fraction > 1:
            raise InvalidInput(f"equity_fraction must be at most 1, not {fraction}")
        limit, stop, kind = self.limit_price, self.stop_price, self.order_type
        needs_limit = kind is OrderType.LIMIT or kind is OrderType.STOP_LIMIT
        needs_stop = kind is OrderType.STOP or kind is OrderType.STOP_LIMIT
        if needs_limit != (limit is not None) or needs_stop != (stop is not None):
            raise InvalidInput(f"a {kind} order needs exactly its own price fields")
        if kind is not OrderType.MARKET:
            for price in (limit, stop):
                if price is not None and not price > 0:
                    raise InvalidInput(f"order prices must be positive, not {price}")
        if self.stop_loss is not None and not self.stop_loss > 0:
            raise InvalidInput(f"a stop-loss price must be positive, not {self.stop_loss}")

    @property
    def remaining(self) -> float | None:
        """Quantity still to fill, once the size is a quantity (None for notional/fraction orders)."""
        return None if self.qty is None else self.qty - self.filled_qty


class Fill(NamedTuple):
    """An order's execution (a named tuple: one per fill, built in the backtest loop)."""

    order_id: str
    symbol: str
    side: Side
    qty: float
    price: float  # including slippage
    commission: float
    ts: datetime
    bar_index: int
    slippage: float = 0.0  # money lost to slippage on this fill


class PortfolioView(Protocol):
    """What a strategy may read of the portfolio (execution's Portfolio implements it)."""

    @property
    def cash(self) -> float: ...

    @property
    def equity(self) -> float: ...

    def position(self, symbol: str) -> float:
        """Signed quantity held (negative when short)."""
        ...

    def price(self, symbol: str) -> float:
        """The last price seen of the symbol."""
        ...


class PortfolioState:
    """The state a strategy decides on, refreshed by the engine at every timestamp: the step
    (bar_index counts the timestamps of the run), its time and the portfolio."""

    __slots__ = ("_times", "bar_index", "portfolio")

    def __init__(self, portfolio: PortfolioView, times: Sequence[datetime], bar_index: int = -1) -> None:
        self.portfolio, self._times, self.bar_index = portfolio, times, bar_index

    @property
    def ts(self) -> datetime | None:
        """The time of the current step; None before the first."""
        return self._times[self.bar_index] if self.bar_index >= 0 else None
