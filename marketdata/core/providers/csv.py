"""Bars from CSV or Parquet files in the common layouts.

The time is the first column, or a column named date, datetime, timestamp, time or ts; it may be
text or epoch seconds / milliseconds. Open, High, Low, Close, Volume in any letter case, with an
optional Adj Close. Naive times are taken in the given timezone (UTC unless told otherwise).
A cell that is not a number or a time rejects its row, with the line it stands on.
"""

import codecs
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from marketdata.core.bars import BAR_COLUMNS, PRICE_COLUMNS, RawBars, RejectedRow, Timeframe
from marketdata.core.errors import DataFormatError
from marketdata.core.providers.base import DataProvider, check_range

TIME_COLUMNS = ("date", "datetime", "timestamp", "time", "ts")
PARQUET_MAGIC = b"PAR1"


class CSVProvider(DataProvider):
    name = "csv"

    def __init__(self, path: str | Path, *, timezone: str = "UTC", adjust: bool = False) -> None:
        self.path = Path(path)
        self.timezone = timezone
        self.adjust = adjust

    def fetch_bars(self, symbol: str, start: datetime, end: datetime, timeframe: Timeframe) -> RawBars:
        check_range(start, end)
        raw, rejected_times = self._read(symbol, timeframe)
        ts = raw.frame["ts"]
        raw.frame = raw.frame.loc[ts.isna() | ((ts >= start) & (ts <= end))].reset_index(drop=True)
        # A row rejected for a bad cell belongs to the range its time names; one without a time, to any.
        raw.rejected = [
            r for r, t in zip(raw.rejected, rejected_times, strict=True) if pd.isna(t) or start <= t <= end
        ]
        return raw

    def read(self, symbol: str, timeframe: Timeframe) -> RawBars:
        """Every row of the file."""
        return self._read(symbol, timeframe)[0]

    def _read(self, symbol: str, timeframe: Timeframe) -> tuple[RawBars, list[pd.Timestamp]]:
        """Every row of the file, and the time of each rejected row (NaT when it has none)."""
        text, first_line = self._load()
        columns = _resolve_columns(text, self.path)
        rejected: list[RejectedRow] = []
        rows = np.arange(len(text)) + first_line
        ts, ts_bad = _parse_times(text[columns["ts"]], self.timezone)
        numbers: dict[str, np.ndarray] = {}
        bad = ts_bad.copy()
        reasons: dict[int, list[str]] = {
            int(i): [f"timestamp {text[columns['ts']].iloc[i]!r} is not a time"]
            for i in np.flatnonzero(ts_bad)
        }
        for name in (*BAR_COLUMNS, "adj_close"):
            if name not in columns:
                continue
            cells = text[columns[name]]
            values = pd.to_numeric(cells, errors="coerce").to_numpy(dtype="float64")
            stripped = cells.astype(str).str.strip()
            blank = (stripped == "").to_numpy()
            not_number = np.isnan(values) & ~blank & ~stripped.str.lower().isin(["nan", "na"]).to_numpy()
            for i in np.flatnonzero(blank):
                reasons.setdefault(int(i), []).append(f"{name} is missing")
            for i in np.flatnonzero(not_number):
                reasons.setdefault(int(i), []).append(f"{name} is not a number: {cells.iloc[i]!r}")
            bad |= blank | not_number
            numbers[name] = values
        for i in sorted(reasons):
            rejected.append(
                RejectedRow(
                    row=int(rows[i]), ts=str(text[columns["ts"]].iloc[i]), reason="; ".join(reasons[i])
                )
            )
        rejected_times = [ts.iloc[i] for i in sorted(reasons)]

        if self.adjust and "adj_close" in numbers:
            factor = numbers["adj_close"] / numbers["close"]
            for name in PRICE_COLUMNS:
                numbers[name] = np.round(numbers[name] * factor, 4)
            numbers["volume"] = np.round(numbers["volume"] / factor)
        frame = pd.DataFrame({"ts": ts, **{c: numbers[c] for c in BAR_COLUMNS}, "row": rows})
        raw = RawBars(
            symbol=symbol,
            timeframe=timeframe,
            frame=frame.loc[~bad].reset_index(drop=True),
            rejected=rejected,
        )
        return raw, rejected_times

    def _load(self) -> tuple[pd.DataFrame, int]:
        """The file as a frame of text cells, and the line number of its first data row."""
        if not self.path.is_file():
            raise DataFormatError(f"{self.path}: no such file")
        with self.path.open("rb") as handle:
            head = handle.read(4096)
        if not head.strip():
            raise DataFormatError(f"{self.path}: the file is empty")
        if head.startswith(PARQUET_MAGIC):
            frame = pd.read_parquet(self.path)
            if isinstance(frame.index, pd.DatetimeIndex):
                frame = frame.reset_index()
            # Cells as the text a CSV would hold: a missing number reads "nan", a missing time "".
            return frame.astype(object).map(lambda v: "" if v is None or v is pd.NaT else str(v)), 1
        if b"\x00" in head:
            raise DataFormatError(f"{self.path}: not a CSV or Parquet file")
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head)  # a character cut at the end is fine
            frame = pd.read_csv(self.path, dtype=str, keep_default_na=False, skipinitialspace=True)
        except (UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise DataFormatError(f"{self.path}: not a CSV or Parquet file ({exc})") from None
        if frame.empty:
            raise DataFormatError(f"{self.path}: the file has a header but no rows")
        return frame, 2


def _resolve_columns(frame: pd.DataFrame, path: Path) -> dict[str, str]:
    """Map our names (ts, open, ..., adj_close) to the file's column names."""
    by_key = {str(c).strip().lower().replace(" ", "_"): c for c in frame.columns}
    found = {name: by_key[name] for name in BAR_COLUMNS if name in by_key}
    missing = [name for name in BAR_COLUMNS if name not in found]
    if missing:
        raise DataFormatError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns))}"
        )
    for key in ("adj_close", "adjclose"):
        if key in by_key:
            found["adj_close"] = by_key[key]
    time_key = next((k for k in TIME_COLUMNS if k in by_key), None)
    found["ts"] = by_key[time_key] if time_key else frame.columns[0]
    if found["ts"] in {found[n] for n in BAR_COLUMNS}:
        raise DataFormatError(f"{path}: no time column (first column or one named {', '.join(TIME_COLUMNS)})")
    return found


def _parse_times(cells: pd.Series, timezone: str) -> tuple[pd.Series, np.ndarray]:
    """UTC timestamps, and a mask of cells that are not times."""
    text = cells.astype(str).str.strip()
    epoch = text.str.fullmatch(r"\d{9,19}").to_numpy()
    if epoch.any() and epoch.sum() * 2 >= (text != "").sum():
        # Mostly epoch numbers: read those by their magnitude; any other cell is not a time.
        values = pd.to_numeric(text.where(epoch), errors="coerce")
        top = values.max()
        unit = "s" if top < 10**11 else "ms" if top < 10**14 else "ns"
        parsed = pd.to_datetime(values, unit=unit, utc=True)
        return parsed, ~epoch
    try:
        parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        if parsed.dt.tz is None:
            parsed = parsed.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
        else:
            parsed = parsed.dt.tz_convert("UTC")
    except (ValueError, TypeError):
        # Offsets that differ from row to row: read each as the instant it names.
        parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    return parsed, (parsed.isna() & (text != "")).to_numpy() | (text == "").to_numpy()
