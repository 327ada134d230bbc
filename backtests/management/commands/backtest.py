"""python manage.py backtest: backtest a strategy on stored bars (a recorded run) or on a CSV file."""

import argparse
import json
from pathlib import Path
from time import perf_counter

from django.core.management.base import BaseCommand, CommandError

from backtests.core.report import ReportGenerator, model_span_text
from backtests.core.results import BacktestResult
from backtests.management.options import (
    add_backtest_arguments,
    add_options_arguments,
    backtest_config_from_options,
    metrics_table,
    options_run_arguments,
    path_prepare,
    run_reports,
    strategy_config_from_options,
    text_write,
)
from backtests.services import (
    backtest_csv_compute,
    backtest_report_write,
    backtest_run_create,
    backtest_run_execute,
    version_backtest_create,
)
from marketdata.core.bars import Timeframe
from marketdata.core.errors import ApplicationError
from marketdata.selectors import date_span
from strategies.models import StrategyVersion


class Command(BaseCommand):
    help = (
        "Backtest a strategy: on stored bars (recorded as a backtest run, with its HTML report) or, "
        "with --csv, on a CSV or Parquet file (nothing stored). An option strategy trades synthetic "
        "option chains priced from its underlying's bars."
    )

    def add_arguments(self, parser) -> None:
        add_backtest_arguments(parser)
        add_options_arguments(parser)
        parser.add_argument(
            "--strategy-version",
            type=int,
            help="backtest an approved strategy version (its config and risk policy) instead of --strategy",
        )
        parser.add_argument(
            "--fast",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="--fast insists on the compiled fast path, --no-fast runs the bar-by-bar loop "
            "(default: the fast path when it can run)",
        )

    def handle(self, *args, **opts) -> None:
        try:
            if opts["strategy_version"] is not None:
                result, written = self._on_version(opts)
            else:
                result, written = self._on_config(opts)
            if opts["json"]:
                document = json.dumps(ReportGenerator().generate_json(result), indent=2, allow_nan=False)
                written.append(("json result", text_write(Path(opts["json"]), document)))
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        model = result.metadata.get("model")
        if model:
            self.stdout.write(
                f"model {model['reference']}: {model['model_type']} {model['content_hash'][:12]}, "
                f"trained on {', '.join(model['instruments'])} {model['training_start'][:10]}.."
                f"{model['training_end'][:10]}"
            )
            self.stdout.write(model_span_text(result))
        for line in metrics_table(result.metrics):
            self.stdout.write(line)
        for what, path in written:
            self.stdout.write(f"{what}: {path}")

    def _on_config(self, opts) -> tuple[BacktestResult, list]:
        strategy_config = strategy_config_from_options(opts)
        backtest_config = backtest_config_from_options(opts, strategy_config.timeframe)
        if opts["csv"]:
            return self._on_csv(strategy_config, backtest_config, opts)
        run = backtest_run_create(
            strategy_config=strategy_config,
            backtest_config=backtest_config,
            **options_run_arguments(opts),
        )
        return self._on_stored(run, opts)

    def _on_version(self, opts) -> tuple[BacktestResult, list]:
        given = [f"--{name}" for name in ("strategy", "config", "csv") if opts[name]]
        given += ["--symbols"] * bool(opts["symbols"]) + ["--param"] * bool(opts["param"])
        if given:
            raise CommandError(
                f"--strategy-version backtests the version's own config: drop {', '.join(given)}"
            )
        version = StrategyVersion.objects.filter(pk=opts["strategy_version"]).first()
        if version is None:
            raise CommandError(f"no strategy version #{opts['strategy_version']}")
        timeframe = Timeframe.parse(version.config.get("timeframe", "1d"))
        backtest_config = backtest_config_from_options(opts, timeframe)
        run = version_backtest_create(
            version=version,
            backtest_config=backtest_config,
            **options_run_arguments(opts),
        )
        return self._on_stored(run, opts)

    # --- the two ways -------------------------------------------------------------------------

    def _on_stored(self, run, opts) -> tuple[BacktestResult, list]:
        span = date_span(run.start, run.end) or " (all of them)"
        self.stdout.write(
            f"backtest run #{run.pk}: {run.strategy} on {', '.join(run.symbols)} {run.timeframe}, "
            f"stored bars{span}"
        )
        result = backtest_run_execute(run=run, fast=opts["fast"])
        self.stdout.write(self._summary(result, run.duration_seconds))
        written = run_reports(run.report_path, opts["html"])
        return result, written

    def _on_csv(self, strategy_config, backtest_config, opts) -> tuple[BacktestResult, list]:
        started = perf_counter()
        result = backtest_csv_compute(
            strategy_config=strategy_config,
            backtest_config=backtest_config,
            csv_path=opts["csv"],
            fast=opts["fast"],
            **options_run_arguments(opts),
        )
        seconds = perf_counter() - started
        symbols = ", ".join(strategy_config.universe)
        self.stdout.write(
            f"backtest of {strategy_config.strategy} on {symbols} {strategy_config.timeframe} "
            f"from {opts['csv']} (not stored)"
        )
        self.stdout.write(self._summary(result, seconds))
        if not opts["html"]:
            return result, [("html report", "none written (--html FILE writes one)")]
        target = path_prepare(Path(opts["html"]))
        return result, [("html report", str(backtest_report_write(result=result, path=target)))]

    # --- output -------------------------------------------------------------------------------

    def _summary(self, result: BacktestResult, seconds: float) -> str:
        curve = result.equity_curve
        span = f" {curve.ts[0]:%Y-%m-%d}..{curve.ts[-1]:%Y-%m-%d}" if len(curve) else ""
        path = result.metadata.get("path", "?")
        line = f"{len(curve):,} bars{span}, {path} path, {seconds:.2f} s"
        if path == "options":
            refused = len(result.metadata.get("rejected_orders", []))
            line += f"; {len(result.option_trades):,} option trades, {refused:,} orders refused"
        return line
