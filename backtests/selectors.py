"""Reads of backtests: backtest and walk-forward runs, their reports and trials, and the bars a run
works on (stored or from a CSV file)."""

from collections.abc import Sequence

from django.core.files import File
from django.db.models import Count, QuerySet, Value

from backtests.choices import RunKind, RunStatus
from backtests.models import BacktestRun, RecordedRun, WalkForwardRun, WalkForwardTrial
from marketdata.core.errors import NotFound
from quantsite.artifacts import artifact_open


def backtest_run_list() -> QuerySet[BacktestRun]:
    return BacktestRun.objects.select_related("requested_by")


def backtest_run_get(*, run_id: int) -> BacktestRun:
    try:
        return backtest_run_list().get(pk=run_id)
    except BacktestRun.DoesNotExist:
        raise NotFound(f"no backtest run #{run_id}") from None


def run_report_get(*, run: RecordedRun) -> File:
    """The HTML report of a finished run (a backtest or a walk-forward), open for reading."""
    if run.status != RunStatus.DONE or not run.report_path:
        raise NotFound(f"the report of {run.label} #{run.pk} is not ready (status {run.status})")
    try:
        return artifact_open(run.report_path)
    except FileNotFoundError:
        raise NotFound(f"the report of {run.label} #{run.pk} is missing from the artifact storage") from None


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
