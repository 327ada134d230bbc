"""Writes of walk-forward runs: validate a request, create and queue a run, fan its jobs out to the
Celery workers (or run them in this process), keep each job's trials, and assemble the result with
its headline figures and HTML report.

The walk-forward is the pure core (backtests.core.walkforward): it cuts the work into jobs (a window,
or the whole span, times a chunk of parameter sets) and assembles the trials of all of them. Here a
job is a Celery task whose trials are stored with an upsert, in one transaction with the row that
marks the job done, so a retried or duplicated job never stores a trial twice; the last step loads
the trials back from the database. Without a broker (the embedded mode) the chord runs inline.
"""

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import structlog
from celery import chord
from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from backtests.choices import DataSource, RunStatus
from backtests.core.report import to_plain
from backtests.core.results import BacktestConfig
from backtests.core.walkforward import (
    Job,
    Objective,
    Trial,
    WalkForwardConfig,
    WalkForwardEngine,
    WalkForwardPlan,
    WalkForwardResult,
    trial_from_json,
    trial_json,
    walk_forward_json,
)
from backtests.core.wf_report import walk_forward_html
from backtests.models import WHOLE_SPAN, WalkForwardChunk, WalkForwardRun, WalkForwardTrial
from backtests.selectors import walk_forward_trial_list
from backtests.services import (
    backtest_bars_load,
    backtest_config_from_json,
    backtest_config_to_json,
    backtest_source_check,
    backtest_validate,
    report_file_write,
    strategy_config_from_dict,
)
from marketdata.core.errors import ApplicationError, InvalidInput
from quantsite.artifacts import artifact_write
from quantsite.runs import run_error_message, run_recorded
from strategies.core.config import StrategyConfig
from strategies.core.option_strategies import OptionStrategy
from strategies.core.registry import strategy_build

log = structlog.get_logger(__name__)

# The objective's names in requests and on the command line (the core's own names are accepted too).
OBJECTIVES = {
    "sharpe": Objective.SHARPE_RATIO,
    "total_return": Objective.TOTAL_RETURN,
    "sortino": Objective.SORTINO_RATIO,
    "calmar": Objective.CALMAR_RATIO,
    "profit_factor": Objective.PROFIT_FACTOR,
}
# A bigger grid is refused: every set is backtested once per window and once more over the whole span.
MAX_PARAMETER_SETS = 10_000


# --- configs ---------------------------------------------------------------------------------


def objective_parse(name: str) -> Objective:
    """sharpe, total_return, sortino, calmar or profit_factor (or the core's names: sharpe_ratio, ...)."""
    objective = OBJECTIVES.get(name) or next((o for o in Objective if o.value == name), None)
    if objective is None:
        raise InvalidInput(f"unknown objective {name!r}; use one of {', '.join(OBJECTIVES)}")
    return objective


def walk_forward_config_to_json(config: WalkForwardConfig) -> dict[str, Any]:
    return to_plain(config)


def walk_forward_config_from_json(data: dict[str, Any]) -> WalkForwardConfig:
    return WalkForwardConfig(**data)


def walk_forward_validate(
    *,
    strategy_config: StrategyConfig,
    walk_forward_config: WalkForwardConfig,
    backtest_config: BacktestConfig,
) -> None:
    """Everything about a walk-forward that can be checked before any bar is read: the backtest
    (strategy, its base parameters, costs, dates), the grid's parameter names, and that every value
    on the grid makes at least one valid parameter set (a set that is invalid only with some other
    value, fast 20 with slow 20, is kept: the core records it as a failed trial)."""
    strategy = backtest_validate(strategy_config=strategy_config, backtest_config=backtest_config)
    if isinstance(strategy, OptionStrategy):
        raise InvalidInput(
            f"walk-forwards run share strategies; {strategy_config.strategy} trades options: backtest it"
        )
    grid = walk_forward_config.parameter_grid
    known = sorted(type(strategy).Parameters.model_fields)
    for name in grid:
        if name not in known:
            raise InvalidInput(
                f"the grid's {name!r} is not a parameter of {strategy_config.strategy}; "
                f"its parameters: {', '.join(known) or 'none'}"
            )
    combos = walk_forward_config.combinations()
    if len(combos) > MAX_PARAMETER_SETS:
        raise InvalidInput(f"{len(combos):,} parameter sets on the grid; at most {MAX_PARAMETER_SETS:,}")
    valid: set[tuple[str, str]] = set()
    failed: dict[tuple[str, str], str] = {}
    for combo in combos:
        values = {(name, repr(value)) for name, value in combo.items()}
        try:
            strategy_build(_with_parameters(strategy_config, combo))
        except ApplicationError as exc:
            for value in values:
                failed.setdefault(value, exc.message)
        else:
            valid |= values
    for (name, value), message in failed.items():
        if (name, value) not in valid:
            raise InvalidInput(f"the grid's {name}={value} makes no valid parameter set: {message}")


def _with_parameters(base: StrategyConfig, parameters: dict[str, Any]) -> StrategyConfig:
    # The grid's values override the base config's parameters (as in the core).
    return base.model_copy(update={"parameters": {**base.parameters, **parameters}})


# --- computing a walk-forward (no rows written) -----------------------------------------------


def walk_forward_csv_compute(
    *,
    strategy_config: StrategyConfig,
    walk_forward_config: WalkForwardConfig,
    backtest_config: BacktestConfig,
    csv_path: str | Path,
) -> WalkForwardResult:
    """The walk-forward of one CSV (or Parquet) file's bars, in this process; nothing is stored."""
    walk_forward_validate(
        strategy_config=strategy_config,
        walk_forward_config=walk_forward_config,
        backtest_config=backtest_config,
    )
    bars = backtest_bars_load(
        strategy_config=strategy_config,
        backtest_config=backtest_config,
        source=DataSource.CSV,
        csv_path=str(csv_path),
    )
    return WalkForwardEngine().run(None, strategy_config, bars, walk_forward_config, backtest_config)


def walk_forward_report_write(*, result: WalkForwardResult, path: Path, title: str | None = None) -> Path:
    return report_file_write(html=walk_forward_html(result, title=title), path=path)


# --- runs ------------------------------------------------------------------------------------


def walk_forward_run_create(
    *,
    strategy_config: StrategyConfig,
    walk_forward_config: WalkForwardConfig,
    backtest_config: BacktestConfig,
    source: str = DataSource.STORED,
    csv_path: str | Path | None = None,
    requested_by=None,
    chunk_size: int | None = None,
) -> WalkForwardRun:
    """Validate a walk-forward request (strategy, parameters, grid, costs, symbols, bars in range)
    and keep it as a queued run. chunk_size: parameter sets per job (default
    settings.WALK_FORWARD_CHUNK_SIZE)."""
    walk_forward_validate(
        strategy_config=strategy_config,
        walk_forward_config=walk_forward_config,
        backtest_config=backtest_config,
    )
    chunk_size = settings.WALK_FORWARD_CHUNK_SIZE if chunk_size is None else chunk_size
    if chunk_size < 1:
        raise InvalidInput(f"the chunk size must be at least 1, not {chunk_size}")
    if source == DataSource.CSV and csv_path:
        csv_path = Path(csv_path).resolve()  # a worker elsewhere in the file system reads it too
    csv_path = backtest_source_check(
        strategy_config=strategy_config, backtest_config=backtest_config, source=source, csv_path=csv_path
    )
    return WalkForwardRun.objects.create(
        strategy=strategy_config.strategy,
        strategy_config=strategy_config.model_dump(mode="json"),
        walk_forward_config=walk_forward_config_to_json(walk_forward_config),
        backtest_config=backtest_config_to_json(backtest_config),
        symbols=list(strategy_config.universe),
        timeframe=backtest_config.timeframe,
        start=backtest_config.start_date,
        end=backtest_config.end_date,
        source=source,
        csv_path=csv_path,
        chunk_size=chunk_size,
        requested_by=requested_by,
    )


def walk_forward_run_enqueue(*, run: WalkForwardRun) -> None:
    from backtests.tasks import walk_forward_run_execute_task

    transaction.on_commit(lambda: walk_forward_run_execute_task.delay(run.pk))


def walk_forward_run_execute(*, run: WalkForwardRun, fan_out: bool = True) -> WalkForwardResult | None:
    """Plan the run (load its bars, cut its windows, count its jobs) and run the jobs: as a Celery
    chord on the backtests queue, a task per job and the assembly as its callback (fan_out; with no
    broker the chord runs inline), or one after another in this process, which returns the result
    (the CLI prints it). A failure to plan marks the run failed and is raised again."""
    run.status, run.started_at, run.finished_at, run.duration_seconds, run.error = (
        RunStatus.RUNNING,
        timezone.now(),
        None,
        None,
        "",
    )
    run.save()
    try:
        jobs = _inputs(run).plan.jobs(run.chunk_size)
    except Exception as exc:
        _run_failed(run, exc)
        raise
    run.chunks_total = len(jobs)
    run.save(update_fields=["chunks_total"])
    log.info("walk-forward planned", run=run.pk, jobs=len(jobs), fan_out=fan_out)
    if not fan_out:
        for job in jobs:
            walk_forward_chunk_execute(run=run, window=job.window, combos=job.combos)
        return walk_forward_run_assemble(run=run)

    _fan_out(run, jobs)
    return None


def walk_forward_run_resume(*, run: WalkForwardRun) -> int:
    """Send a running run's jobs that are not done to the workers again, with a new assembly after
    them; the number sent. A job whose message the broker lost (a worker killed as it took it) would
    otherwise leave the run running for ever; a job sent twice finds its done row and returns. A run
    whose jobs are all done gets its assembly sent again."""
    if run.status != RunStatus.RUNNING or not run.chunks_total:
        return 0
    done = set(run.chunks.values_list("key", flat=True))
    missing = [
        job
        for job in _inputs(run).plan.jobs(run.chunk_size)
        if walk_forward_chunk_key(job.window, job.combos) not in done
    ]
    log.info("walk-forward resumed", run=run.pk, jobs=len(missing))
    _fan_out(run, missing)
    return len(missing)


def walk_forward_runs_stalled_resume(*, stalled_after: timedelta) -> list[int]:
    """Resume the running walk-forwards with no job done for stalled_after (nor started within it);
    their ids."""
    quiet_since = timezone.now() - stalled_after
    runs = (
        WalkForwardRun.objects.filter(
            status=RunStatus.RUNNING, started_at__lt=quiet_since, chunks_total__gt=0
        )
        .annotate(last_done=Max("chunks__done_at"))
        .filter(Q(last_done__isnull=True) | Q(last_done__lt=quiet_since))
    )
    resumed = []
    for run in runs:
        walk_forward_run_resume(run=run)
        resumed.append(run.pk)
    return resumed


def _fan_out(run: WalkForwardRun, jobs: Sequence[Job]) -> None:
    """The jobs as a Celery chord on the backtests queue, the assembly as its callback (inline
    without a broker)."""
    from backtests.tasks import walk_forward_assemble_task, walk_forward_chunk_task

    header = [walk_forward_chunk_task.si(run.pk, job.window, list(job.combos)) for job in jobs]
    if header:
        chord(header)(walk_forward_assemble_task.si(run.pk))
    else:
        walk_forward_assemble_task.delay(run.pk)


def walk_forward_chunk_key(window: int | None, combos: Sequence[int]) -> str:
    """A job's name: "w3:0-29" (window 3, sets 0 to 29) or "all:0-29" (the whole span)."""
    where = "all" if window is None else f"w{window}"
    return f"{where}:{combos[0]}-{combos[-1]}"


def walk_forward_chunk_execute(*, run: WalkForwardRun, window: int | None, combos: Sequence[int]) -> bool:
    """Backtest one job's parameter sets and keep their trials; False when there was nothing to do
    (the job is done already, or the run is over). The trials are upserted on (run, window, combo)
    in one transaction with the job's chunk row: a job run twice stores each trial once. A failure
    marks the run failed (naming the job) and is raised again."""
    key = walk_forward_chunk_key(window, combos)
    if run.status in {RunStatus.DONE, RunStatus.FAILED} or run.chunks.filter(key=key).exists():
        return False
    try:
        inputs = _inputs(run)
        trials = WalkForwardEngine().evaluate(
            strategy_build,
            inputs.strategy_config,
            inputs.frames,
            inputs.plan,
            Job(window, tuple(combos)),
            inputs.backtest_config,
        )
        rows = [WalkForwardTrial(run=run, **_trial_row(trial)) for trial in trials]
        with transaction.atomic():
            WalkForwardTrial.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["run", "window", "combo"],
                update_fields=["parameters", "metrics", "error", "returns"],
            )
            WalkForwardChunk.objects.bulk_create([WalkForwardChunk(run=run, key=key)], ignore_conflicts=True)
    except Exception as exc:
        _run_failed(run, exc, prefix=f"job {key}: ")
        raise
    return True


def walk_forward_run_assemble(*, run: WalkForwardRun) -> WalkForwardResult | None:
    """The run's result from its stored trials: each window's choice, the stitched out-of-sample
    run and its figures; kept on the run (status done) with its HTML report. None when the run is
    over already (done, or failed in a job). Any failure marks the run failed and is raised again."""
    if run.status in {RunStatus.DONE, RunStatus.FAILED}:
        return None
    result = None

    def summary() -> dict:
        return {"strategy": run.strategy, "trials": run.trials_count}

    with run_recorded(
        run,
        running=RunStatus.RUNNING,
        failed=RunStatus.FAILED,
        event="walk-forward finished",
        summary=summary,
        resumed=True,
    ):
        done = run.chunks.count()
        if done != run.chunks_total:
            raise InvalidInput(f"{done} of {run.chunks_total} jobs are done: the result cannot be assembled")
        inputs = _inputs(run)
        trials = [_trial_from_row(row) for row in walk_forward_trial_list(run=run)]
        result = WalkForwardEngine().assemble(
            strategy_build,
            inputs.strategy_config,
            inputs.frames,
            inputs.plan,
            trials,
            inputs.walk_forward_config,
            inputs.backtest_config,
        )
        title = f"Walk-forward #{run.pk}: {run.strategy} on {', '.join(run.symbols)} {run.timeframe}"
        report = artifact_write(walk_forward_report_name(run=run), walk_forward_html(result, title=title))
        _result_keep(run, result, report)
    return result


def walk_forward_report_name(*, run: WalkForwardRun) -> str:
    """The name of the run's HTML report in the artifact storage."""
    return f"walkforwards/{run.pk}.html"


# --- inside ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Inputs:
    """What every job of a run needs: its configs, its bars (checked and cut) and its plan."""

    strategy_config: StrategyConfig
    walk_forward_config: WalkForwardConfig
    backtest_config: BacktestConfig
    frames: dict[str, Any]
    plan: WalkForwardPlan


def _inputs(run: WalkForwardRun) -> _Inputs:
    return _inputs_cached(run.pk, run.created_at)


@functools.lru_cache(maxsize=2)
def _inputs_cached(run_id: int, created_at: datetime) -> _Inputs:
    """A run's inputs, loaded once per worker process (a run's configs never change), so that its
    jobs do not read the bars again and again. created_at is in the key because a test database
    can give a new run the id of a run gone with a rolled-back transaction."""
    run = WalkForwardRun.objects.get(pk=run_id)
    strategy_config = strategy_config_from_dict(run.strategy_config)
    walk_forward_config = walk_forward_config_from_json(run.walk_forward_config)
    backtest_config = backtest_config_from_json(run.backtest_config)
    bars: dict[str, pd.DataFrame] = backtest_bars_load(
        strategy_config=strategy_config,
        backtest_config=backtest_config,
        source=run.source,
        csv_path=run.csv_path,
    )
    engine = WalkForwardEngine()
    frames = engine.frames(strategy_build, strategy_config, bars, backtest_config)
    plan = engine.plan(frames, walk_forward_config)
    return _Inputs(strategy_config, walk_forward_config, backtest_config, frames, plan)


walk_forward_inputs_clear = _inputs_cached.cache_clear


def _trial_row(trial: Trial) -> dict[str, Any]:
    """A trial as the row's fields; its returns as raw float64 bytes (exact, and a tenth of the
    work of JSON for the thousands of returns a whole-span trial has)."""
    data = trial_json(trial)
    return {
        "window": WHOLE_SPAN if data["window"] is None else data["window"],
        "combo": data["combo"],
        "parameters": data["parameters"],
        "metrics": data["metrics"],
        "error": data["error"] or "",
        "returns": None if trial.returns is None else trial.returns.astype("<f8").tobytes(),
    }


def _trial_from_row(row: WalkForwardTrial) -> Trial:
    trial = trial_from_json(
        {
            "window": None if row.window == WHOLE_SPAN else row.window,
            "combo": row.combo,
            "parameters": row.parameters,
            "metrics": row.metrics,
            "error": row.error or None,
            "returns": None,
        }
    )
    if row.returns is None:
        return trial
    return dataclasses.replace(
        trial, returns=np.frombuffer(bytes(row.returns), dtype="<f8").astype("float64")
    )


def _result_keep(run: WalkForwardRun, result: WalkForwardResult, report: str) -> None:
    """The result's document and headline figures on the run, and the name of its report; status
    done. The caller saves it."""
    metrics, dsr, pbo = result.aggregated_metrics, result.deflated_sharpe, result.overfitting
    run.result = walk_forward_json(result)
    run.trials_count = len(result.trials)
    # to_plain: a figure that is not a finite number is kept as none, as in the document (JSON has
    # no NaN).
    run.total_return_pct = to_plain(metrics.total_return_pct)
    run.sharpe_ratio = to_plain(metrics.sharpe_ratio)
    run.efficiency = to_plain(result.efficiency)
    run.dsr_probability = None if dsr is None else to_plain(dsr.probability)
    run.pbo = None if pbo is None else to_plain(pbo.pbo)
    run.report_path = report
    run.status = RunStatus.DONE


def _run_failed(run: WalkForwardRun, exc: Exception, prefix: str = "") -> None:
    """Keep exc on the run as its failure, unless the run is over already (the first failure wins)."""
    finished = timezone.now()
    run.status, run.error, run.finished_at = RunStatus.FAILED, prefix + run_error_message(exc), finished
    run.duration_seconds = (
        None if run.started_at is None else round((finished - run.started_at).total_seconds(), 3)
    )
    WalkForwardRun.objects.filter(pk=run.pk).exclude(status__in=[RunStatus.DONE, RunStatus.FAILED]).update(
        status=run.status, error=run.error, finished_at=finished, duration_seconds=run.duration_seconds
    )
    log.info("walk-forward finished", run=run.pk, status=run.status, error=run.error)
