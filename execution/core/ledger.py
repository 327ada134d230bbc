"""Round-trip trades from fills: lots are matched first in, first out."""

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple, overload

import numpy as np
import pandas as pd

from strategies.core.types import Fill


def trade_return_pct(sign, entry_price, exit_price):
    """A trade's return in percent; sign is 1 for a long, -1 for a short (floats or arrays)."""
    return sign * (exit_price / entry_price - 1.0) * 100.0


class Trade(NamedTuple):
    """A round trip: a position opened by fills and closed by later ones. (A named tuple: a run
    can hold hundreds of thousands, and tuples are the cheapest immutable records to build.)"""

    symbol: str
    direction: Literal["long", "short"]
    quantity: float
    entry_time: datetime
    entry_price: float
    exit_time: datetime
    exit_price: float
    pnl: float  # (exit - entry) x qty for longs, (entry - exit) x qty for shorts, less commissions
    commission: float
    entry_bar: int
    exit_bar: int

    @property
    def return_pct(self) -> float:
        return trade_return_pct(1.0 if self.direction == "long" else -1.0, self.entry_price, self.exit_price)

    @property
    def bars_held(self) -> int:
        return self.exit_bar - self.entry_bar


class Trades(Sequence[Trade]):
    """Round trips held as columns (numpy arrays; the times as DatetimeIndexes) and read as Trade
    tuples, built only when read, so a run of a million bars and its tens of thousands of trades
    does not build objects nobody looks at. Metrics read the columns. Equal to any sequence of the
    same trades.

    The times are given, or else `times` is given: the bars' times, which entry_bar and exit_bar
    index; entry_time and exit_time are then looked up when first read (a parameter search
    measures thousands of runs and reads the times of none)."""

    def __init__(
        self,
        *,
        symbol: np.ndarray,
        long: np.ndarray,
        quantity: np.ndarray,
        entry_price: np.ndarray,
        exit_price: np.ndarray,
        pnl: np.ndarray,
        commission: np.ndarray,
        entry_bar: np.ndarray,
        exit_bar: np.ndarray,
        entry_time: pd.DatetimeIndex | None = None,
        exit_time: pd.DatetimeIndex | None = None,
        times: pd.DatetimeIndex | None = None,
    ) -> None:
        if (entry_time is None or exit_time is None) and times is None:
            raise TypeError("Trades needs entry_time and exit_time, or the bars' times")
        self.symbol, self.long, self.quantity = symbol, long, quantity
        self.entry_price, self.exit_price = entry_price, exit_price
        self.pnl, self.commission, self.entry_bar, self.exit_bar = pnl, commission, entry_bar, exit_bar
        self._entry_time, self._exit_time, self._times = entry_time, exit_time, times

    @property
    def entry_time(self) -> pd.DatetimeIndex:
        if self._entry_time is None:
            self._entry_time = self._times[self.entry_bar]
        return self._entry_time

    @property
    def exit_time(self) -> pd.DatetimeIndex:
        if self._exit_time is None:
            self._exit_time = self._times[self.exit_bar]
        return self._exit_time

    @classmethod
    def from_records(cls, trades: Sequence[Trade]) -> "Trades":
        columns = dict(zip(Trade._fields, zip(*trades, strict=True), strict=True)) if trades else {}

        def floats(name: str) -> np.ndarray:
            return np.array(columns.get(name, ()), dtype="float64")

        def times(name: str) -> pd.DatetimeIndex:
            return pd.DatetimeIndex(columns.get(name, ()), dtype=None if trades else "datetime64[us, UTC]")

        return cls(
            symbol=np.array(columns.get("symbol", ()), dtype=object),
            long=np.array([d == "long" for d in columns.get("direction", ())], dtype=bool),
            quantity=floats("quantity"),
            entry_time=times("entry_time"),
            entry_price=floats("entry_price"),
            exit_time=times("exit_time"),
            exit_price=floats("exit_price"),
            pnl=floats("pnl"),
            commission=floats("commission"),
            entry_bar=np.array(columns.get("entry_bar", ()), dtype=np.int64),
            exit_bar=np.array(columns.get("exit_bar", ()), dtype=np.int64),
        )

    def where(self, mask: np.ndarray) -> "Trades":
        """The trades that mask selects (a boolean per trade, or a slice)."""
        return Trades(**{name: column[mask] for name, column in self._columns().items()})

    @property
    def return_pct(self) -> np.ndarray:
        return trade_return_pct(np.where(self.long, 1.0, -1.0), self.entry_price, self.exit_price)

    @property
    def bars_held(self) -> np.ndarray:
        return self.exit_bar - self.entry_bar

    def __len__(self) -> int:
        return len(self.pnl)

    @overload
    def __getitem__(self, i: int) -> Trade: ...
    @overload
    def __getitem__(self, i: slice) -> "Trades": ...
    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.where(i)
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"trade {i} of {n}")
        return next(iter(self[i % n : i % n + 1]))

    def __iter__(self) -> Iterator[Trade]:
        columns = self._columns()
        columns["long"] = np.where(self.long, "long", "short")
        for name in ("entry_time", "exit_time"):
            columns[name] = columns[name].to_pydatetime()
        return map(Trade._make, zip(*(column.tolist() for column in columns.values()), strict=True))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Trades: {len(self):,} round trips>"

    def _columns(self) -> dict:
        """The columns in Trade's field order (long standing for direction)."""
        return {
            "symbol": self.symbol,
            "long": self.long,
            "quantity": self.quantity,
            "entry_time": self.entry_time,
            "entry_price": self.entry_price,
            "exit_time": self.exit_time,
            "exit_price": self.exit_price,
            "pnl": self.pnl,
            "commission": self.commission,
            "entry_bar": self.entry_bar,
            "exit_bar": self.exit_bar,
        }


@dataclass
class _Lot:
    signed_qty: float
    price: float
    ts: datetime
    bar: int
    commission: float  # the entry commission still carried by this lot


class TradeLedger:
    def __init__(self) -> None:
        self.trades: list[Trade] = []
        self._lots: dict[str, deque[_Lot]] = {}

    def open_lots(self, symbol: str) -> list[tuple[float, float]]:
        return [(lot.signed_qty, lot.price) for lot in self._lots.get(symbol, ())]

    def record(self, fill: Fill) -> None:
        lots = self._lots.setdefault(fill.symbol, deque())
        signed = fill.side.sign * fill.qty
        per_unit_commission = fill.commission / fill.qty if fill.qty else 0.0
        while lots and signed and (lots[0].signed_qty > 0) != (signed > 0):
            lot = lots[0]
            closed = min(abs(signed), abs(lot.signed_qty))
            long = lot.signed_qty > 0
            entry_commission = lot.commission * closed / abs(lot.signed_qty)
            commission = entry_commission + per_unit_commission * closed
            gross = (fill.price - lot.price) * closed * (1 if long else -1)
            self.trades.append(
                Trade(
                    symbol=fill.symbol,
                    direction="long" if long else "short",
                    quantity=closed,
                    entry_time=lot.ts,
                    entry_price=lot.price,
                    exit_time=fill.ts,
                    exit_price=fill.price,
                    pnl=gross - commission,
                    commission=commission,
                    entry_bar=lot.bar,
                    exit_bar=fill.bar_index,
                )
            )
            lot.commission -= entry_commission
            lot.signed_qty += closed if not long else -closed
            signed += closed if not (signed > 0) else -closed
            if abs(lot.signed_qty) < 1e-12:
                lots.popleft()
        if abs(signed) > 1e-12:
            lots.append(_Lot(signed, fill.price, fill.ts, fill.bar_index, per_unit_commission * abs(signed)))


def round_trips(symbol: str, ts: pd.DatetimeIndex, bars, signs, qtys, prices, commissions) -> Trades:
    """The trades of fills that alternate between opening a position from flat and closing all of
    it (fill 2k opens, fill 2k+1 closes; bars index ts), from arrays: what record() gives for such
    fills, with the same arithmetic in the same order, at numpy speed. A last, unclosed fill opens
    no trade."""
    n = len(qtys) // 2 * 2
    entry, exit_ = slice(0, n, 2), slice(1, n, 2)
    qty = qtys[entry]
    lot_commission = commissions[entry] / qty * qty
    commission = lot_commission * qty / qty + commissions[exit_] / qtys[exit_] * qty
    long = signs[entry] > 0
    pnl = (prices[exit_] - prices[entry]) * qty * np.where(long, 1.0, -1.0) - commission
    return Trades(
        symbol=np.full(len(qty), symbol, dtype=object),
        long=long,
        quantity=qty,
        entry_price=prices[entry],
        exit_price=prices[exit_],
        pnl=pnl,
        commission=commission,
        entry_bar=bars[entry],
        exit_bar=bars[exit_],
        times=ts,
    )
