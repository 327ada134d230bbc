"""python manage.py walkforward: a walk-forward optimisation of a strategy on stored bars (a recorded
run, in this process or fanned out to the Celery workers) or on a CSV file."""

import json
import math
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from backtests.choices import DataSource, RunStatus
from backtests.core.walkforward import WalkForwardConfig, WindowType, walk_forward_json
from backtests.core.wf_report import DSR_CONFIDENCE
from backtests.management.options import (
    add_backtest_arguments,
    backtest_config_from_options,
    metrics_table,
    parse_decimal,
    path_prepare,
    run_reports,
    strategy_config_from_options,
    text_write,
)
from backtests.models import WalkForwardRun
from backtests.selectors import walk_forward_progress, walk_forward_run_get
from backtests.walkforward_services import (
    MAX_PARAMETER_SETS,
    OBJECTIVES,
    walk_forward_csv_compute,
    walk_forward_report_write,
    walk_forward_run_create,
    walk_forward_run_enqueue,
    walk_forward_run_execute,
)
from marketdata.core.errors import ApplicationError, InvalidInput
from marketdata.selectors import date_span
from quantsite.cli import parse_value

# The window table's objective column: its label and the metric it reads, per objective.
OBJECTIVE_COLUMNS = {
    "sharpe_ratio": ("IS Sharpe", "sharpe_ratio"),
    "total_return": ("IS return %", "total_return_pct"),
    "sortino_ratio": ("IS Sortino", "sortino_ratio"),
    "calmar_ratio": ("IS Calmar", "calmar_ratio"),
    "profit_factor": ("IS profit f.", "profit_factor"),
}
POLL_SECONDS = 0.5
FIGURE_WIDTH = 28


def parse_grid(text: str) -> tuple[str, list]:
    """NAME=START:STOP:STEP (STOP included; whole numbers when START and STEP are) or NAME=A,B,C
    (each value an int, else a float, else a bool, else a string, as --param reads them)."""
    name, sep, raw = text.partition("=")
    name, raw = name.strip(), raw.strip()
    if not sep or not name or not raw:
        raise InvalidInput(f"--grid {text!r} is not NAME=START:STOP:STEP or NAME=A,B,C")
    if ":" not in raw:
        return name, [parse_value(v) for v in raw.split(",") if v.strip()]
    parts = raw.split(":")
    if len(parts) != 3:
        raise InvalidInput(f"--grid {text!r} is not NAME=START:STOP:STEP")
    start, stop, step = (parse_decimal(p.strip(), f"--grid {name}") for p in parts)
    if not step > 0:
        raise InvalidInput(f"--grid {text!r}: the step must be positive")
    if stop < start:
        raise InvalidInput(f"--grid {text!r}: the stop is below the start")
    count = int((stop - start) / step) + 1
    if count > MAX_PARAMETER_SETS:
        raise InvalidInput(f"--grid {text!r}: {count:,} values; at most {MAX_PARAMETER_SETS:,}")
    whole = start == start.to_integral_value() and step == step.to_integral_value()
    values = [start + i * step for i in range(count)]
    return name, [int(v) if whole else float(v) for v in values]


def grid_from_options(texts: list[str]) -> dict[str, list]:
    grid: dict[str, list] = {}
    for text in texts:
        name, values = parse_grid(text)
        if name in grid:
            raise InvalidInput(f"--grid {name} is given twice")
        grid[name] = values
    return grid


class Command(BaseCommand):
    help = (
        "Walk-forward optimisation: choose a strategy's parameters on each in-sample window, trade "
        "them on the out-of-sample span after it, and measure the stitched out-of-sample run "
        "(efficiency, deflated Sharpe ratio, probability of backtest overfitting). On stored bars it "
        "is a recorded run (in this process, or with --workers celery on the Celery workers); with "
        "--csv, on a CSV or Parquet file."
    )

    def add_arguments(self, parser) -> None:
        add_backtest_arguments(parser, what="walk-forward")
        parser.add_argument("--in-sample-days", type=int, required=True, help="sessions to choose on")
        parser.add_argument("--out-of-sample-days", type=int, required=True, help="sessions to trade on")
        parser.add_argument("--step-days", type=int, help="sessions between windows (default: out-of-sample)")
        parser.add_argument(
            "--window", choices=[w.value for w in WindowType], default=WindowType.ROLLING.value
        )
        parser.add_argument(
            "--grid",
            action="append",
            default=[],
            metavar="NAME=START:STOP:STEP|NAME=A,B,C",
            help="a parameter's values to try (repeatable; STOP included); without it, the strategy's "
            "own parameters are validated out of sample",
        )
        parser.add_argument("--objective", choices=list(OBJECTIVES), default="sharpe")
        parser.add_argument(
            "--min-trades", type=int, default=1, help="in-sample trades a set needs to be chosen (default 1)"
        )
        parser.add_argument(
            "--carry-positions", action="store_true", help="hand open positions on to the next window"
        )
        parser.add_argument(
            "--workers",
            choices=["inline", "celery"],
            default="inline",
            help="inline: in this process (default); celery: fan the jobs out to the Celery workers "
            "(needs CELERY_BROKER_URL) and follow their progress",
        )

    def handle(self, *args, **opts) -> None:
        try:
            strategy_config = strategy_config_from_options(opts)
            backtest_config = backtest_config_from_options(opts, strategy_config.timeframe)
            walk_forward_config = WalkForwardConfig(
                in_sample_days=opts["in_sample_days"],
                out_of_sample_days=opts["out_of_sample_days"],
                step_days=opts["step_days"] or opts["out_of_sample_days"],
                window_type=opts["window"],
                parameter_grid=grid_from_options(opts["grid"]),
                objective=OBJECTIVES[opts["objective"]],
                min_trades_required=opts["min_trades"],
                carry_positions=opts["carry_positions"],
            )
            configs = (strategy_config, walk_forward_config, backtest_config)
            if opts["workers"] == "celery":
                document, written = self._on_workers(*configs, opts)
            elif opts["csv"]:
                document, written = self._on_csv(*configs, opts)
            else:
                document, written = self._in_process(*configs, opts)
            if opts["json"]:
                text = json.dumps(document, indent=2, allow_nan=False)
                written.append(("json result", text_write(Path(opts["json"]), text)))
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        for line in self._result_lines(document):
            self.stdout.write(line)
        for what, path in written:
            self.stdout.write(f"{what}: {path}")

    # --- the three ways -----------------------------------------------------------------------

    def _in_process(self, strategy_config, walk_forward_config, backtest_config, opts) -> tuple[dict, list]:
        run = walk_forward_run_create(
            strategy_config=strategy_config,
            walk_forward_config=walk_forward_config,
            backtest_config=backtest_config,
        )
        self.stdout.write(self._heading(run, "in this process"))
        walk_forward_run_execute(run=run, fan_out=False)
        return self._finished(run, opts)

    def _on_workers(self, strategy_config, walk_forward_config, backtest_config, opts) -> tuple[dict, list]:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            raise InvalidInput(
                "--workers celery needs a Celery broker: set CELERY_BROKER_URL (without one, tasks "
                "run in this process; leave --workers out to run here)"
            )
        source = DataSource.CSV if opts["csv"] else DataSource.STORED
        run = walk_forward_run_create(
            strategy_config=strategy_config,
            walk_forward_config=walk_forward_config,
            backtest_config=backtest_config,
            source=source,
            csv_path=opts["csv"],
        )
        walk_forward_run_enqueue(run=run)  # no transaction open here: sent at once
        self.stdout.write(self._heading(run, "on the Celery workers"))
        shown = None
        while run.status in {RunStatus.QUEUED, RunStatus.RUNNING}:
            time.sleep(POLL_SECONDS)
            run = walk_forward_run_get(run_id=run.pk)
            progress = walk_forward_progress(run=run)
            if run.status == RunStatus.QUEUED and shown is None:
                shown = "queued"
                self.stdout.write("queued: waiting for a worker on the backtests queue")
            elif progress["total"] and progress != shown:
                shown = progress
                self.stdout.write(f"jobs done: {progress['done']} of {progress['total']}")
        if run.status == RunStatus.FAILED:
            raise InvalidInput(run.error)
        return self._finished(run, opts)

    def _on_csv(self, strategy_config, walk_forward_config, backtest_config, opts) -> tuple[dict, list]:
        symbols = ", ".join(strategy_config.universe)
        sets = len(walk_forward_config.combinations())
        self.stdout.write(
            f"walk-forward of {strategy_config.strategy} on {symbols} {strategy_config.timeframe} "
            f"from {opts['csv']} (not stored), {sets:,} parameter set(s), in this process"
        )
        started = time.perf_counter()
        result = walk_forward_csv_compute(
            strategy_config=strategy_config,
            walk_forward_config=walk_forward_config,
            backtest_config=backtest_config,
            csv_path=opts["csv"],
        )
        document = json.loads(json.dumps(walk_forward_json(result)))
        self.stdout.write(self._summary(document, time.perf_counter() - started))
        if not opts["html"]:
            return document, [("html report", "none written (--html FILE writes one)")]
        target = path_prepare(Path(opts["html"]))
        return document, [("html report", str(walk_forward_report_write(result=result, path=target)))]

    def _finished(self, run: WalkForwardRun, opts) -> tuple[dict, list]:
        run.refresh_from_db()
        self.stdout.write(self._summary(run.result, run.duration_seconds or 0.0))
        written = run_reports(run.report_path, opts["html"])
        return run.result, written

    # --- output -------------------------------------------------------------------------------

    def _heading(self, run: WalkForwardRun, where: str) -> str:
        if run.source == DataSource.CSV:
            data = run.csv_path
        else:
            data = f"stored bars{date_span(run.start, run.end) or ' (all of them)'}"
        grid = run.walk_forward_config["parameter_grid"]
        sets = 1
        for values in grid.values():
            sets *= len(values)
        return (
            f"walk-forward run #{run.pk}: {run.strategy} on {', '.join(run.symbols)} {run.timeframe}, "
            f"{data}, {sets:,} parameter set(s), {where}"
        )

    def _summary(self, document: dict, seconds: float) -> str:
        windows = document["windows"]
        span = _span(windows[0]["out_of_sample_start"], windows[-1]["out_of_sample_end"])
        return (
            f"{len(windows):,} window(s), {document['trials']:,} backtests of a set, out of sample "
            f"{span}, {seconds:.2f} s"
        )

    def _result_lines(self, document: dict) -> list[str]:
        return [
            *window_lines(document),
            "stitched out-of-sample run:",
            *metrics_table(document["aggregated_metrics"]),
            *figure_lines(document),
        ]


def window_lines(document: dict) -> list[str]:
    """One line per window: its spans, the chosen set, its in-sample objective, the out-of-sample
    return and efficiency (or why no set was chosen)."""
    label, field = OBJECTIVE_COLUMNS[document["config"]["objective"]]
    chosen = [_parameters(w["best_parameters"]) for w in document["windows"]]
    width = max(len("chosen"), *map(len, chosen))
    lines = [
        f"{'window':>6}  {'in sample':<22}  {'out of sample':<22}  {'chosen':<{width}}  "
        f"{label:>12}  {'OOS return %':>12}  {'efficiency':>10}"
    ]
    for window, parameters in zip(document["windows"], chosen, strict=True):
        spans = (
            f"{window['index']:>6}  {_span(window['in_sample_start'], window['in_sample_end'])}  "
            f"{_span(window['out_of_sample_start'], window['out_of_sample_end'])}  "
        )
        if window["best_parameters"] is None:
            lines.append(spans + window["note"])
            continue
        objective = window["in_sample_metrics"][field]
        oos = window["out_of_sample_metrics"]["total_return_pct"]
        lines.append(
            spans + f"{parameters:<{width}}  {_number(objective):>12}  {_number(oos):>12}  "
            f"{_number(window['efficiency']):>10}"
        )
    return lines


def figure_lines(document: dict) -> list[str]:
    """Efficiency, deflated Sharpe ratio and PBO, each with a plain reading (or why it is missing)."""
    notes = document["notes"]
    efficiency, dsr, pbo = document["efficiency"], document["deflated_sharpe"], document["overfitting"]
    lines = []
    if efficiency is None:
        reading = "n/a: the mean in-sample annual return of the chosen sets is not positive"
        lines.append(_figure("walk-forward efficiency", reading))
    else:
        if efficiency >= 1:
            reading = "out of sample it made as much a year as in sample, or more"
        elif efficiency > 0:
            reading = f"out of sample it made {efficiency:.0%} of its in-sample annual return"
        else:
            reading = "out of sample it made no money, where in sample it did"
        lines.append(_figure("walk-forward efficiency", f"{efficiency:.2f}: {reading}"))
    if dsr is None:
        lines.append(_figure("deflated Sharpe ratio", "n/a: " + _note(notes, "deflated Sharpe ratio")))
    else:
        probability, trials = dsr["probability"], dsr["trials"]
        if probability >= DSR_CONFIDENCE:
            verdict = f"passes (>= {DSR_CONFIDENCE}): the out-of-sample Sharpe ratio is unlikely to be luck"
        else:
            verdict = f"fails (needs {DSR_CONFIDENCE}): the out-of-sample Sharpe ratio could be luck"
        # Rounded down: 0.9497 reads 0.949, never a failing 0.95.
        shown = math.floor(probability * 1000) / 1000
        reading = f"{shown:.3f}: {verdict}, given the {trials:,} parameter set(s) tried"
        lines.append(_figure("deflated Sharpe ratio", reading))
    if pbo is None:
        lines.append(
            _figure("overfitting (PBO)", "n/a: " + _note(notes, "probability of backtest overfitting"))
        )
    else:
        lines.append(
            _figure(
                "overfitting (PBO)",
                f"{pbo['pbo']:.2f}: the set best in sample was at or below the median out of sample in "
                f"{pbo['pbo']:.0%} of {pbo['splits']:,} splits (0.5 is no better than picking at random)",
            )
        )
    return lines


def _figure(label: str, text: str) -> str:
    return f"{label:<{FIGURE_WIDTH}}{text}"


def _note(notes: list[str], prefix: str) -> str:
    return next((n.removeprefix(f"{prefix}: ") for n in notes if n.startswith(prefix)), "not computed")


def _span(start: str, end: str) -> str:
    return f"{start[:10]}..{end[:10]}"


def _parameters(parameters: dict[str, Any] | None) -> str:
    if parameters is None:
        return "-"
    return " ".join(f"{k}={v}" for k, v in parameters.items()) or "as configured"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"
