"""Reads of market data: querysets, and bar frames handed to the pure core."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from django.db.models import Exists, FloatField, Max, OuterRef, QuerySet, Subquery, TextField
from django.db.models.functions import Cast

from marketdata.core.bars import RejectedRow, Timeframe, bar_frame, empty_bar_frame
from marketdata.core.calendar import day_range, last_closed_session
from marketdata.core.errors import InvalidInput, NotFound
from marketdata.core.providers.csv import CSVProvider
from marketdata.core.quality import check_bars
from marketdata.models import IngestionRun, Instrument, PriceBar


def instrument_get(*, symbol: str) -> Instrument:
    try:
        return Instrument.objects.get(symbol=symbol.upper())
    except Instrument.DoesNotExist:
        raise NotFound(f"unknown symbol {symbol!r}") from None


def instrument_list(*, active: bool | None = None) -> QuerySet[Instrument]:
    qs = Instrument.objects.all()
    return qs if active is None else qs.filter(active=active)


def active_symbols_with_bars(*, timeframe: Timeframe) -> list[str]:
    """The symbols of the active instruments that have bars of timeframe: the active universe."""
    stored = PriceBar.objects.filter(instrument=OuterRef("pk"), timeframe=timeframe)
    return list(instrument_list(active=True).filter(Exists(stored)).values_list("symbol", flat=True))


def bar_list(*, instrument: Instrument, timeframe: str, start=None, end=None) -> QuerySet[PriceBar]:
    qs = PriceBar.objects.filter(instrument=instrument, timeframe=timeframe)
    if start is not None:
        qs = qs.filter(ts__gte=start)
    if end is not None:
        qs = qs.filter(ts__lte=end)
    return qs.order_by("ts")


def bars_frame_get(
    *,
    instrument: Instrument,
    timeframe: Timeframe,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """Stored bars as a float64 BarFrame for the pure core. The database hands over the times as
    text and the prices as doubles, which pandas and numpy read in bulk: a datetime and five
    Decimals built per row would cost three times as much (every walk-forward job reads its bars)."""
    prices = (Cast(name, FloatField()) for name in ("open", "high", "low", "close", "volume"))
    rows = list(
        bar_list(instrument=instrument, timeframe=timeframe, start=start, end=end).values_list(
            Cast("ts", TextField()), *prices
        )
    )
    if not rows:
        return empty_bar_frame()
    ts, *columns = zip(*rows, strict=True)
    return bar_frame(
        pd.to_datetime(ts, utc=True, format="ISO8601"), *(np.array(c, dtype="float64") for c in columns)
    )


def last_close_before(*, instrument: Instrument, timeframe: Timeframe, ts: datetime) -> float | None:
    close = (
        PriceBar.objects.filter(instrument=instrument, timeframe=timeframe, ts__lt=ts)
        .order_by("-ts")
        .values_list("close", flat=True)
        .first()
    )
    return None if close is None else float(close)


def last_closes_get(*, symbols, timeframe: Timeframe) -> dict[str, tuple[Decimal, datetime]]:
    """The latest stored close of each symbol in timeframe and its bar's time, in one query (a symbol
    without a bar is left out)."""
    latest = PriceBar.objects.filter(instrument=OuterRef("pk"), timeframe=timeframe).order_by("-ts")
    rows = (
        Instrument.objects.filter(symbol__in=list(symbols))
        .annotate(close=Subquery(latest.values("close")[:1]), close_ts=Subquery(latest.values("ts")[:1]))
        .values_list("symbol", "close", "close_ts")
    )
    return {symbol: (close, ts) for symbol, close, ts in rows if close is not None}


@dataclass(frozen=True)
class Freshness:
    symbol: str
    last_bar: date | None
    expected: date

    @property
    def stale(self) -> bool:
        return self.last_bar is None or self.last_bar < self.expected


def data_freshness_list(*, as_of: datetime) -> list[Freshness]:
    """Daily-bar freshness of every active instrument that trades XNYS sessions."""
    expected = last_closed_session(as_of)
    last_by_id = dict(
        PriceBar.objects.filter(timeframe=Timeframe.D1, instrument__active=True)
        .values("instrument_id")
        .annotate(last=Max("ts"))
        .values_list("instrument_id", "last")
    )
    return [
        Freshness(i.symbol, last_by_id[i.pk].date() if i.pk in last_by_id else None, expected)
        for i in instrument_list(active=True)
        if i.trades_xnys_sessions
    ]


def universe_ingest_range(
    *, as_of: datetime, years_if_empty: int = 10
) -> tuple[list[str], datetime, datetime]:
    """Symbols of the active US-equity universe and the daily range that brings them all up to date."""
    freshness = data_freshness_list(as_of=as_of)
    last_day = freshness[0].expected if freshness else as_of.date()
    lasts = [f.last_bar for f in freshness]
    first_day = last_day - timedelta(days=365 * years_if_empty) if not lasts or None in lasts else min(lasts)
    start, end = day_range(first_day, last_day)
    return [f.symbol for f in freshness], start, end


def rejected_rows_of(run: IngestionRun, limit: int) -> list[tuple[str, RejectedRow]]:
    """The first rejected rows of a run, with their symbol (for the CLI and the API)."""
    out: list[tuple[str, RejectedRow]] = []
    for report in run.reports.select_related("instrument").order_by("pk"):
        for r in report.rejected[: limit - len(out)]:
            out.append((report.instrument.symbol, RejectedRow(r["row"], r["ts"], r["reason"])))
        if len(out) >= limit:
            break
    return out


def date_span(start: datetime | None, end: datetime | None) -> str:
    """' between 2024-01-02 and 2024-03-28', ' from ...', ' up to ...' or '' (for messages)."""
    if start is not None and end is not None:
        return f" between {start:%Y-%m-%d} and {end:%Y-%m-%d}"
    if start is not None:
        return f" from {start:%Y-%m-%d}"
    if end is not None:
        return f" up to {end:%Y-%m-%d}"
    return ""


def stored_bars_check(
    *, symbols: list[str], timeframe: Timeframe, start: datetime | None, end: datetime | None
) -> None:
    """Every symbol is known and has bars in range (without loading them)."""
    for symbol in symbols:
        instrument = instrument_get(symbol=symbol)
        if not bar_list(instrument=instrument, timeframe=timeframe, start=start, end=end).exists():
            raise InvalidInput(f"no {timeframe} bars of {symbol} stored{date_span(start, end)}")


def stored_bars_get(
    *, symbols: list[str], timeframe: Timeframe, start: datetime | None, end: datetime | None
) -> dict[str, pd.DataFrame]:
    """A BarFrame per symbol from the stored bars; an unknown symbol or no bars in range is an error."""
    frames = {}
    for symbol in symbols:
        bars = bars_frame_get(
            instrument=instrument_get(symbol=symbol), timeframe=timeframe, start=start, end=end
        )
        if bars.empty:
            raise InvalidInput(f"no {timeframe} bars of {symbol} stored{date_span(start, end)}")
        frames[symbol] = bars
    return frames


def csv_bars_get(
    *, path: str | Path, symbol: str, timeframe: Timeframe, start: datetime | None, end: datetime | None
) -> pd.DataFrame:
    """A file's bars as a BarFrame, cut to [start, end]. A file with a bad row is refused, naming the
    first one: a backtest on silently thinned data would look fine and be wrong."""
    result = check_bars(CSVProvider(path).read(symbol, timeframe))
    if result.rejected:
        first = result.rejected[0]
        raise InvalidInput(
            f"{path}: {len(result.rejected)} bad row(s); the first is row {first.row} "
            f"({first.ts or 'no time'}): {first.reason}",
            details={"rejected": [r.as_dict() for r in result.rejected]},
        )
    bars = result.bars.loc[start:end]
    if bars.empty:
        raise InvalidInput(f"no bars in {path}{date_span(start, end)}")
    return bars
