"""Bar frames: the one in-memory shape of OHLCV data that every provider returns.

A BarFrame is a pandas DataFrame indexed by a UTC DatetimeIndex named ``ts`` with float64
columns open, high, low, close, volume, sorted and unique. Raw bars (``RawBars``) are what a
provider read before validation: they may hold NaN, duplicates or unsorted rows, and carry the
source row of every bar so that a rejection can name it.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np
import pandas as pd

from marketdata.core.errors import InvalidInput

PRICE_COLUMNS = ("open", "high", "low", "close")
BAR_COLUMNS = (*PRICE_COLUMNS, "volume")


class Timeframe(StrEnum):
    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    D1 = "1d"

    @classmethod
    def parse(cls, value: "str | Timeframe") -> "Timeframe":
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(t.value for t in cls)
            raise InvalidInput(f"unknown timeframe {value!r}; use one of {allowed}") from None

    @property
    def duration(self) -> timedelta:
        return {
            Timeframe.M1: timedelta(minutes=1),
            Timeframe.M5: timedelta(minutes=5),
            Timeframe.M15: timedelta(minutes=15),
            Timeframe.H1: timedelta(hours=1),
            Timeframe.D1: timedelta(days=1),
        }[self]

    @property
    def is_intraday(self) -> bool:
        return self is not Timeframe.D1


@dataclass(frozen=True)
class RejectedRow:
    """A bar that was not loaded, with the place it came from and why."""

    row: int | None
    ts: str
    reason: str

    def as_dict(self) -> dict:
        return {"row": self.row, "ts": self.ts, "reason": self.reason}


@dataclass
class RawBars:
    """Bars as read from a source, before validation.

    ``frame`` has columns ts (UTC, NaT allowed), open, high, low, close, volume (float64, NaN
    allowed) and row (the source's row number: the line of a file, or the position in a reply).
    ``rejected`` holds rows that could not even be parsed.
    """

    symbol: str
    timeframe: Timeframe
    frame: pd.DataFrame
    rejected: list[RejectedRow] = field(default_factory=list)


def empty_bar_frame() -> pd.DataFrame:
    index = pd.DatetimeIndex([], tz="UTC", name="ts")
    return pd.DataFrame({c: np.array([], dtype="float64") for c in BAR_COLUMNS}, index=index)


def bar_frame(ts, open_, high, low, close, volume) -> pd.DataFrame:
    """Build a BarFrame from column arrays (timestamps must be UTC-aware or UTC epoch ns)."""
    index = pd.DatetimeIndex(ts, name="ts")
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    data = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    return pd.DataFrame({k: np.asarray(v, dtype="float64") for k, v in data.items()}, index=index)


def raw_from_frame(symbol: str, timeframe: Timeframe, frame: pd.DataFrame) -> RawBars:
    """Wrap a BarFrame (from a provider that returns clean rows) as RawBars, row = position."""
    raw = frame.reset_index()
    raw["row"] = np.arange(1, len(raw) + 1)
    return RawBars(symbol=symbol, timeframe=timeframe, frame=raw[["ts", *BAR_COLUMNS, "row"]])


@dataclass(frozen=True)
class BarArrays:
    """One symbol's bars as contiguous float64 arrays with their times: what indicators, features
    and strategies compute on."""

    symbol: str
    ts: pd.DatetimeIndex
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    @classmethod
    def from_frame(cls, symbol: str, frame: pd.DataFrame) -> "BarArrays":
        columns = {c: np.ascontiguousarray(frame[c].to_numpy(dtype="float64")) for c in BAR_COLUMNS}
        return cls(symbol=symbol, ts=frame.index, **columns)

    def __len__(self) -> int:
        return len(self.close)

    def frame(self) -> pd.DataFrame:
        """The bars as a BarFrame."""
        return bar_frame(self.ts, self.open, self.high, self.low, self.close, self.volume)

    def between(self, start: datetime | None, end: datetime | None) -> "BarArrays":
        """The bars from start to end, both included (None: no bound), sharing these arrays."""
        if start is None and end is None:
            return self
        first = 0 if start is None else int(self.ts.searchsorted(start))
        stop = len(self) if end is None else int(self.ts.searchsorted(end, side="right"))
        return BarArrays(
            self.symbol,
            self.ts[first:stop],
            *(getattr(self, c)[first:stop] for c in BAR_COLUMNS),
        )
