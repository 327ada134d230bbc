"""The DataProvider contract every source of bars implements."""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from marketdata.core.bars import RawBars, Timeframe
from marketdata.core.errors import InvalidInput
from marketdata.core.quality import check_bars


@dataclass(frozen=True)
class Quote:
    symbol: str
    ts: datetime
    bid: float
    ask: float
    bid_size: float
    ask_size: float


class DataProvider(ABC):
    name: str

    @abstractmethod
    def fetch_bars(self, symbol: str, start: datetime, end: datetime, timeframe: Timeframe) -> RawBars:
        """Bars of [start, end] as the source gave them, before validation."""

    def get_bars(self, symbol: str, start: datetime, end: datetime, timeframe: Timeframe) -> pd.DataFrame:
        """A clean BarFrame of [start, end]; raises InvalidInput when the source had bad rows.

        Research code gets either every bar or an error naming the bad ones: never a frame with
        rows silently dropped. The ingestion service loads the good rows and reports the rest.
        """
        result = check_bars(self.fetch_bars(symbol, start, end, timeframe))
        if result.rejected:
            first = "; ".join(f"row {r.row}: {r.reason}" for r in result.rejected[:3])
            raise InvalidInput(
                f"{len(result.rejected)} bad bar(s) in {symbol} {timeframe}: {first}",
                details={"rejected": [r.as_dict() for r in result.rejected]},
            )
        return result.bars

    def stream_live_quotes(self, symbols: list[str]) -> Iterator[Quote]:
        raise InvalidInput(f"the {self.name} provider has no live quotes")


def check_range(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("start and end must be timezone-aware")
    if end < start:
        raise InvalidInput(f"end {end:%Y-%m-%d} is before start {start:%Y-%m-%d}")
