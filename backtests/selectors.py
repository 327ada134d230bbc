"""Reads of backtests: backtest and walk-forward runs, their reports and trials, and the bars a run
works on (stored or from a CSV file)."""

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pandas as pd
from django.db.models import Count, QuerySet, Value

from backtests.choices import RunKind, RunStatus
from backtests.models import BacktestRun, RecordedRun, WalkForwardRun, WalkForwardTrial
from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput, NotFound
from marketdata.core.providers.csv import CSVProvider
from marketdata.core.quality import check_bars
from marketdata.selectors import bar_list, bars_frame_get, instrument_get


def backtest_run_list() -> QuerySet[BacktestRun]:
    return BacktestRun.objects.select_related("requested_by")


def backtest_run_get(*, run_id: int) -> BacktestRun:
    try:
        return backtest_run_list().get(pk=run_id)
    except BacktestRun.DoesNotExist:
        raise NotFound(f"no backtest run #{run_id}") from None


def run_report_get(*, run: RecordedRun) -> Path:
    """The HTML report file of a finished run (a backtest or a walk-forward)."""
    path = Path(run.report_path) if run.report_path else None
    if run.status != RunStatus.DONE or path is None:
        raise NotFound(f"the report of {run.label} #{run.pk} is not ready (status {run.status})")
    if not path.is_file():
        raise NotFound(f"the report of {run.label} #{run.pk} is missing from the artifact storage")
    return path


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


# --- walk-forward runs ------------------------------------------------------------------------


def walk_forward_run_list() -> QuerySet[WalkForwardRun]:
    return (
        WalkForwardRun.objects.select_related("requested_by")
        .annotate(chunks_done=Count("chunks"))
        .order_by("-created_at", "-id")  # Meta.ordering is not applied to a grouped query
    )


def walk_forward_run_get(*, run_id: int) -> WalkForwardRun:
    try:
        return walk_forward_run_list().get(pk=run_id)
    except WalkForwardRun.DoesNotExist:
        raise NotFound(f"no walk-forward run #{run_id}") from None


def walk_forward_progress(*, run: WalkForwardRun) -> dict[str, int]:
    """{"done", "total"}: the run's jobs done (their trials stored) and planned (0 until planned)."""
    done = getattr(run, "chunks_done", None)
    return {"done": run.chunks.count() if done is None else done, "total": run.chunks_total}


def walk_forward_trial_list(*, run: WalkForwardRun) -> QuerySet[WalkForwardTrial]:
    return WalkForwardTrial.objects.filter(run=run).order_by("window", "combo")


def run_kinds_list(
    *, backtests: QuerySet[BacktestRun], walk_forwards: QuerySet[WalkForwardRun], ordering: Sequence[str]
) -> QuerySet:
    """Backtest and walk-forward runs in one ordered list of (kind, id, created_at, finished_at)
    rows (one query; it pages like any queryset): the runs list shows both kinds."""
    columns = ("kind", "id", "created_at", "finished_at")
    return (
        backtests.order_by()
        .annotate(kind=Value(RunKind.BACKTEST.value))
        .values_list(*columns)
        .union(
            walk_forwards.order_by().annotate(kind=Value(RunKind.WALK_FORWARD.value)).values_list(*columns),
            all=True,
        )
        .order_by(*ordering)
    )
