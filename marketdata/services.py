"""Writes of market data: ingestion runs (fetch, validate, load) and quality reports."""

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg.copy import QueuedLibpqWriter

from marketdata.choices import AssetClass, RunStatus
from marketdata.core.bars import BAR_COLUMNS, Timeframe, raw_from_frame
from marketdata.core.errors import Conflict, InvalidInput
from marketdata.core.options import OptionContract as ContractTerms
from marketdata.core.providers.base import DataProvider
from marketdata.core.providers.csv import CSVProvider
from marketdata.core.providers.synthetic import SyntheticProvider
from marketdata.core.quality import CheckResult, check_bars
from marketdata.models import IngestionRun, Instrument, OptionContract, PriceBar, QualityReport
from marketdata.selectors import bars_frame_get, last_close_before
from quantsite.events import event_bus
from quantsite.runs import run_recorded

PROVIDERS = ("synthetic", "csv", "alpaca")
COPY_CHUNK_ROWS = 200_000
SQLITE_BATCH_ROWS = 2_000


def provider_build(name: str, params: dict) -> DataProvider:
    """A provider by name, configured from the run's params and the settings."""
    if name == "synthetic":
        return SyntheticProvider(seed=int(params.get("seed", 7)))
    if name == "csv":
        return CSVProvider(
            params["path"], timezone=params.get("timezone", "UTC"), adjust=params.get("adjust", False)
        )
    if name == "alpaca":
        from marketdata.core.providers.alpaca import AlpacaProvider  # alpaca-py is slow to import

        return AlpacaProvider(
            settings.ALPACA_API_KEY,
            settings.ALPACA_API_SECRET,
            data_url=settings.ALPACA_DATA_URL,
            feed=settings.ALPACA_DATA_FEED,
        )
    raise InvalidInput(f"unknown provider {name!r}; use one of {', '.join(PROVIDERS)}")


def instrument_ensure(*, symbol: str, defaults: dict | None = None) -> Instrument:
    symbol = symbol.strip().upper()
    if not symbol:
        raise InvalidInput("empty symbol")
    instrument, _ = Instrument.objects.get_or_create(symbol=symbol, defaults=defaults or {})
    return instrument


def option_contract_ensure(*, symbol: str) -> OptionContract:
    """The option instrument of an OCC symbol with its terms; created (with its underlying's
    instrument when that is new too) the first time the symbol is seen."""
    terms = ContractTerms.parse(symbol)
    name = f"{terms.underlying} {terms.expiry} {terms.strike} {terms.right}"
    with transaction.atomic():
        instrument = instrument_ensure(
            symbol=terms.symbol, defaults={"asset_class": AssetClass.OPTION, "exchange": "OPRA", "name": name}
        )
        if instrument.asset_class != AssetClass.OPTION:
            raise Conflict(f"instrument {terms.symbol} exists as {instrument.asset_class}, not as an option")
        contract, _ = OptionContract.objects.get_or_create(
            instrument=instrument,
            defaults={
                "underlying": instrument_ensure(symbol=terms.underlying),
                "expiry": terms.expiry,
                "strike": terms.strike,
                "right": terms.right,
                "multiplier": terms.multiplier,
            },
        )
    return contract


def ingestion_run_create(
    *,
    provider: str,
    symbols: list[str],
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
    params: dict | None = None,
    requested_by=None,
) -> IngestionRun:
    if provider not in PROVIDERS:
        raise InvalidInput(f"unknown provider {provider!r}; use one of {', '.join(PROVIDERS)}")
    symbols = [s.strip().upper() for s in symbols if s.strip()]
    if not symbols:
        raise InvalidInput("no symbols given")
    timeframe = Timeframe.parse(timeframe)
    if provider != "csv" and (start is None or end is None):
        raise InvalidInput(f"the {provider} provider needs a start and an end")
    if start is not None and end is not None and end < start:
        raise InvalidInput(f"end {end:%Y-%m-%d} is before start {start:%Y-%m-%d}")
    if provider == "csv" and not (params or {}).get("path"):
        raise InvalidInput("the csv provider needs a path")
    return IngestionRun.objects.create(
        provider=provider,
        symbols=symbols,
        timeframe=timeframe,
        start=start,
        end=end,
        params=params or {},
        requested_by=requested_by,
    )


def ingestion_run_enqueue(*, run: IngestionRun) -> None:
    from marketdata.tasks import ingest_bars_task

    transaction.on_commit(lambda: ingest_bars_task.delay(run.pk))


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: "UpsertCounts") -> "UpsertCounts":
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


def ingestion_run_execute(*, run: IngestionRun, provider: DataProvider | None = None) -> IngestionRun:
    """Fetch, validate and load every symbol of the run; record counts and a report per symbol.

    Each symbol loads in its own transaction: a failure keeps what was loaded before it and
    everything stored earlier. Provider errors mark the run failed and propagate (the task retries).
    """
    run.rows_inserted = run.rows_updated = run.rows_unchanged = run.rows_rejected = 0
    timeframe = Timeframe(run.timeframe)

    def counted() -> dict:
        return {"inserted": run.rows_inserted, "updated": run.rows_updated, "rejected": run.rows_rejected}

    with run_recorded(
        run, running=RunStatus.RUNNING, failed=RunStatus.FAILED, event="ingestion finished", summary=counted
    ):
        provider = provider or provider_build(run.provider, run.params)
        valid_rows = 0
        for symbol in run.symbols:
            instrument = instrument_ensure(symbol=symbol, defaults=_instrument_defaults(run))
            result = _fetch_and_check(provider, instrument, run, timeframe)
            with transaction.atomic():
                counts = bars_upsert(
                    instrument=instrument, timeframe=timeframe, bars=result.bars, source=provider.name
                )
                quality_report_save(result=result, instrument=instrument, run=run, as_of=_as_of(run))
            valid_rows += len(result.bars)
            run.rows_inserted += counts.inserted
            run.rows_updated += counts.updated
            run.rows_unchanged += counts.unchanged
            run.rows_rejected += len(result.rejected)
        if valid_rows == 0:
            raise InvalidInput(f"no valid rows to load ({run.rows_rejected} rejected)")
        run.status = RunStatus.PARTIAL if run.rows_rejected else RunStatus.SUCCEEDED
    event_bus().publish("bars.ingested", {"run": run.pk, "symbols": run.symbols, "timeframe": run.timeframe})
    return run


def _instrument_defaults(run: IngestionRun) -> dict:
    keys = ("asset_class", "exchange", "currency")
    defaults = {k: run.params[k] for k in keys if run.params.get(k)}
    if defaults.get("asset_class") and defaults["asset_class"] not in AssetClass.values:
        raise InvalidInput(f"unknown asset class {defaults['asset_class']!r}")
    return defaults


def _as_of(run: IngestionRun) -> datetime | None:
    return min(run.end, timezone.now()) if run.end is not None else None


def _fetch_and_check(provider: DataProvider, instrument: Instrument, run: IngestionRun, timeframe: Timeframe):
    if run.start is not None:
        raw = provider.fetch_bars(instrument.symbol, run.start, run.end, timeframe)
    else:
        raw = provider.read(instrument.symbol, timeframe)
    first = raw.frame["ts"].min() if len(raw.frame) else None
    previous = (
        last_close_before(instrument=instrument, timeframe=timeframe, ts=first) if first is not None else None
    )
    return check_bars(
        raw, exchange_calendar=instrument.trades_xnys_sessions, as_of=_as_of(run), previous_close=previous
    )


def quality_report_save(
    *, result: CheckResult, instrument: Instrument, run: IngestionRun | None, as_of: datetime | None
) -> QualityReport:
    bars = result.bars
    return QualityReport.objects.create(
        run=run,
        instrument=instrument,
        timeframe=result.timeframe,
        first_ts=bars.index[0].to_pydatetime() if len(bars) else None,
        last_ts=bars.index[-1].to_pydatetime() if len(bars) else None,
        as_of=as_of,
        rows_checked=result.rows_checked,
        rows_rejected=len(result.rejected),
        rejected=[r.as_dict() for r in result.rejected],
        issues=[i.as_dict() for i in result.issues],
    )


def quality_report_create(*, instrument: Instrument, timeframe: Timeframe) -> QualityReport:
    """Check the stored bars of an instrument (nothing is fetched) and keep the report."""
    bars = bars_frame_get(instrument=instrument, timeframe=timeframe)
    now = timezone.now()
    result = check_bars(
        raw_from_frame(instrument.symbol, timeframe, bars),
        exchange_calendar=instrument.trades_xnys_sessions,
        as_of=now if timeframe is Timeframe.D1 else None,
    )
    return quality_report_save(result=result, instrument=instrument, run=None, as_of=now)


def bars_upsert(
    *, instrument: Instrument, timeframe: Timeframe, bars: pd.DataFrame, source: str
) -> UpsertCounts:
    """Insert new bars, update changed ones, leave identical ones alone; never delete."""
    if bars.empty:
        return UpsertCounts()
    now = timezone.now()
    if connection.vendor == "postgresql":
        return _upsert_copy(instrument.pk, timeframe, bars, source, now)
    return _upsert_batched(instrument, timeframe, bars, source, now)


# --- PostgreSQL: binary COPY, straight into the table or through a staging table --------------
#
# Bars whose time range holds no stored bar (new data: the common case) are copied straight into
# marketdata_pricebar. Otherwise, or when a concurrent load got there first, each chunk goes into
# a staging table and one INSERT ... ON CONFLICT inserts new bars and updates changed ones.

_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds: PostgreSQL's timestamp zero
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_COLUMNS = "instrument_id, timeframe, ts, open, high, low, close, volume, source, ingested_at"
# numeric in binary: ndigits, weight, sign, dscale, then base-10000 digits. Six digits with weight
# 3 hold an integer part below 10^16 and exactly 8 decimals (the storage scale).
_NUMERIC = [("ndigits", ">i2"), ("weight", ">i2"), ("sign", ">u2"), ("dscale", ">i2"), ("digits", ">i2", 6)]
_NUMERIC_LEN = 8 + 2 * 6
_STAGE_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS marketdata_bar_stage (instrument_id bigint, timeframe varchar(3), "
    "ts timestamptz, open numeric, high numeric, low numeric, close numeric, volume numeric, "
    "source varchar(32), ingested_at timestamptz)"
)
_ANY_STORED_SQL = (
    "SELECT EXISTS (SELECT 1 FROM marketdata_pricebar WHERE instrument_id = %s AND timeframe = %s "
    "AND ts BETWEEN %s AND %s)"
)
_UPSERT_SQL = f"""
WITH up AS (
    INSERT INTO marketdata_pricebar ({_COLUMNS})
    SELECT {_COLUMNS} FROM marketdata_bar_stage
    ON CONFLICT (instrument_id, timeframe, ts) DO UPDATE SET
        open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
        volume = EXCLUDED.volume, source = EXCLUDED.source, ingested_at = EXCLUDED.ingested_at
    WHERE (marketdata_pricebar.open, marketdata_pricebar.high, marketdata_pricebar.low,
           marketdata_pricebar.close, marketdata_pricebar.volume)
          IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume)
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
"""


def _numeric_fields(values: np.ndarray) -> np.ndarray:
    """Exact binary numerics of floats that have at most 8 decimals (validation ensures it)."""
    out = np.empty(len(values), dtype=_NUMERIC)
    magnitude = np.abs(values)
    whole = np.floor(magnitude)
    frac = np.round((magnitude - whole) * 1e8).astype(np.int64)
    carry = frac == 100_000_000
    whole = whole.astype(np.int64) + carry
    frac = np.where(carry, 0, frac)
    out["ndigits"], out["weight"], out["dscale"] = 6, 3, 8
    out["sign"] = np.where(values < 0, 0x4000, 0)
    digits = out["digits"]
    for i, power in enumerate((10**12, 10**8, 10**4, 1)):
        digits[:, i] = (whole // power) % 10_000
    digits[:, 4], digits[:, 5] = frac // 10_000, frac % 10_000
    return out


def copy_rows(instrument_id: int, timeframe: Timeframe, bars: pd.DataFrame, source: str, now) -> bytes:
    """Bars as rows of PostgreSQL's binary COPY format, in the column order of _COLUMNS."""
    tf, src = str(timeframe).encode(), source.encode()
    row = np.dtype(
        [
            ("fields", ">i2"),
            ("id_len", ">i4"),
            ("id", ">i8"),
            ("tf_len", ">i4"),
            ("tf", f"S{len(tf)}"),
            ("ts_len", ">i4"),
            ("ts", ">i8"),
        ]
        + [f for c in BAR_COLUMNS for f in ((f"{c}_len", ">i4"), (c, _NUMERIC))]
        + [("src_len", ">i4"), ("src", f"S{len(src)}"), ("at_len", ">i4"), ("at", ">i8")]
    )
    rows = np.empty(len(bars), dtype=row)
    rows["fields"] = 10
    rows["id_len"], rows["id"] = 8, instrument_id
    rows["tf_len"], rows["tf"] = len(tf), tf
    rows["ts_len"], rows["ts"] = 8, bars.index.as_unit("us").asi8 - _PG_EPOCH_US
    for c in BAR_COLUMNS:
        rows[f"{c}_len"], rows[c] = _NUMERIC_LEN, _numeric_fields(bars[c].to_numpy())
    rows["src_len"], rows["src"] = len(src), src
    rows["at_len"], rows["at"] = 8, int(now.timestamp() * 1_000_000) - _PG_EPOCH_US
    return rows.tobytes()


def copy_binary(cursor, table: str, row_chunks: Iterable[bytes]) -> None:
    """One binary COPY of the chunks into table. A writer thread sends each chunk while the next
    one is built, so PostgreSQL ingests and Python encodes at the same time."""
    raw = cursor.cursor  # psycopg's own cursor: Django's wrapper does not take a writer
    with raw.copy(
        f"COPY {table} ({_COLUMNS}) FROM STDIN (FORMAT BINARY)", writer=QueuedLibpqWriter(raw)
    ) as copy:
        copy.write(_COPY_HEADER)
        for rows in row_chunks:
            copy.write(rows)
        copy.write(_COPY_TRAILER)


def _upsert_copy(
    instrument_id: int, timeframe: Timeframe, bars: pd.DataFrame, source: str, now
) -> UpsertCounts:
    starts = range(0, len(bars), COPY_CHUNK_ROWS)

    def chunks() -> Iterator[bytes]:
        for begin in starts:
            yield copy_rows(instrument_id, timeframe, bars.iloc[begin : begin + COPY_CHUNK_ROWS], source, now)

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_ANY_STORED_SQL, (instrument_id, str(timeframe), bars.index[0], bars.index[-1]))
        if not cursor.fetchone()[0] and _copy_new(cursor, chunks()):
            return UpsertCounts(inserted=len(bars))
        counts = UpsertCounts()
        cursor.execute(_STAGE_DDL)
        for begin, rows in zip(starts, chunks(), strict=True):
            cursor.execute("TRUNCATE marketdata_bar_stage")
            copy_binary(cursor, "marketdata_bar_stage", [rows])
            cursor.execute(_UPSERT_SQL)
            inserted, updated = cursor.fetchone()
            size = min(COPY_CHUNK_ROWS, len(bars) - begin)
            counts += UpsertCounts(inserted, updated, size - inserted - updated)
    return counts


def _copy_new(cursor, row_chunks: Iterable[bytes]) -> bool:
    """COPY bars that were not stored a moment ago; False when a concurrent load stored some first."""
    try:
        with transaction.atomic():
            copy_binary(cursor, "marketdata_pricebar", row_chunks)
    except psycopg.errors.UniqueViolation:
        return False
    return True


# --- SQLite (and any other database): batched upserts through the ORM ------------------------


def _upsert_batched(
    instrument: Instrument, timeframe: Timeframe, bars: pd.DataFrame, source: str, now
) -> UpsertCounts:
    counts = UpsertCounts()
    fields = list(BAR_COLUMNS)
    for begin in range(0, len(bars), SQLITE_BATCH_ROWS):
        chunk = bars.iloc[begin : begin + SQLITE_BATCH_ROWS]
        times = [t.to_pydatetime() for t in chunk.index]
        stored = {
            row[0]: row[1:]
            for row in PriceBar.objects.filter(
                instrument=instrument, timeframe=timeframe, ts__gte=times[0], ts__lte=times[-1]
            ).values_list("ts", *fields)
        }
        changed = []
        for ts, values in zip(times, chunk[fields].itertuples(index=False, name=None), strict=True):
            decimals = tuple(Decimal(repr(float(v))) for v in values)
            old = stored.get(ts)
            if old is not None and tuple(old) == decimals:
                counts.unchanged += 1
                continue
            if old is None:
                counts.inserted += 1
            else:
                counts.updated += 1
            changed.append(
                PriceBar(
                    instrument=instrument,
                    timeframe=timeframe,
                    ts=ts,
                    source=source,
                    ingested_at=now,
                    **dict(zip(fields, decimals, strict=True)),
                )
            )
        PriceBar.objects.bulk_create(
            changed,
            update_conflicts=True,
            unique_fields=["instrument", "timeframe", "ts"],
            update_fields=[*fields, "source", "ingested_at"],
        )
    return counts
