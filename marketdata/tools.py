"""The data agent's tools: fetch bars from the configured provider (validated, stored), check the
stored bars' quality, and their freshness. Through the same services as the ingest and data_quality
commands and the bars API."""

from datetime import date
from typing import Annotated

from django.conf import settings
from django.utils import timezone
from pydantic import Field, StringConstraints

from agents.memory import remember
from agents.registry import tool
from marketdata.api import BarSerializer
from marketdata.core.bars import Timeframe
from marketdata.core.calendar import day_range
from marketdata.selectors import bar_list, data_freshness_list, instrument_get
from marketdata.services import ingestion_run_create, ingestion_run_execute, quality_report_create
from quantsite.roles import OPERATOR, VIEWER

Symbol = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=32),
    Field(description='a symbol, e.g. "AAA"'),
]
REJECTIONS_SHOWN = 20


@tool(agent="data", role=OPERATOR)
def fetch_historical_data(
    actor,
    symbol: Symbol,
    start_date: date,
    end_date: date,
    timeframe: Timeframe = Timeframe.D1,
    limit: Annotated[int, Field(ge=0, le=5000, description="the newest bars of the range to return")] = 100,
) -> dict:
    """Fetch a symbol's bars from the configured provider (MARKETDATA_PROVIDER) for the days from
    start_date to end_date, validate them and store the good ones (an ingestion run with its quality
    report, as `manage.py ingest` does); answers the run's counts and the newest stored bars of the
    range. Remembers the fetch in the data agent's memory (last_fetch:<symbol>)."""
    start, end = day_range(start_date, end_date)
    run = ingestion_run_create(
        provider=settings.MARKETDATA_PROVIDER,
        symbols=[symbol],
        timeframe=timeframe,
        start=start,
        end=end,
        requested_by=actor,
    )
    ingestion_run_execute(run=run)
    bars = bar_list(instrument=instrument_get(symbol=symbol), timeframe=timeframe, start=start, end=end)
    newest = list(bars.order_by("-ts")[:limit])[::-1]
    fetched = {
        "run": run.pk,
        "provider": run.provider,
        "status": run.status,
        "symbol": symbol,
        "timeframe": str(timeframe),
        "start_date": start_date.isoformat(),
        "end_date": end_date.isoformat(),
        "inserted": run.rows_inserted,
        "updated": run.rows_updated,
        "unchanged": run.rows_unchanged,
        "rejected": run.rows_rejected,
    }
    remember("data", f"last_fetch:{symbol}", {**fetched, "at": run.finished_at.isoformat()})
    return {**fetched, "bars_in_range": bars.count(), "bars": BarSerializer(newest, many=True).data}


@tool(agent="data", role=OPERATOR)
def validate_data_quality(actor, symbol: Symbol, timeframe: Timeframe = Timeframe.D1) -> dict:
    """Check a symbol's stored bars (OHLC consistency, non-positive prices, negative volume,
    duplicates, missing XNYS sessions, stale data, unadjusted splits) and keep the quality report, as
    `manage.py data_quality` does; answers the report: ok, the rows checked and rejected, the issues
    and the first rejected rows with their reasons."""
    report = quality_report_create(instrument=instrument_get(symbol=symbol), timeframe=timeframe)
    return {
        "report": report.pk,
        "symbol": symbol,
        "timeframe": str(timeframe),
        "ok": report.ok,
        "first_ts": report.first_ts,
        "last_ts": report.last_ts,
        "rows_checked": report.rows_checked,
        "rows_rejected": report.rows_rejected,
        "issues": report.issues,
        "rejected": report.rejected[:REJECTIONS_SHOWN],
    }


@tool(agent="data", role=VIEWER)
def check_data_freshness(actor, symbol: Symbol | None = None) -> dict:
    """The daily bars' freshness of the active instruments trading XNYS sessions (one symbol, or all):
    each one's last stored daily bar against the last closed session; stale when it is older."""
    rows = data_freshness_list(as_of=timezone.now())
    if symbol is not None:
        instrument_get(symbol=symbol)  # an unknown symbol is a 404, not an empty answer
        rows = [f for f in rows if f.symbol == symbol]
    return {
        "expected": rows[0].expected if rows else None,
        "stale": sum(f.stale for f in rows),
        "instruments": [{"symbol": f.symbol, "last_bar": f.last_bar, "stale": f.stale} for f in rows],
    }
