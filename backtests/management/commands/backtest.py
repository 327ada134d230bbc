"""python manage.py backtest: backtest a strategy on stored bars (a recorded run) or on a CSV file."""

import argparse
import json
import shutil
from decimal import Decimal, InvalidOperation
from pathlib import Path
from time import perf_counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backtests.core.report import ReportGenerator
from backtests.core.results import BacktestConfig, BacktestResult, PerformanceMetrics
from backtests.selectors import date_span
from backtests.services import (
    FILL_TIMINGS,
    backtest_csv_compute,
    backtest_report_write,
    backtest_run_create,
    backtest_run_execute,
    strategy_config_from_dict,
)
from marketdata.core.bars import Timeframe
from marketdata.core.calendar import day_range, parse_day
from marketdata.core.errors import ApplicationError, InvalidInput
from strategies.core.config import StrategyConfig, strategy_config_load

# The printed table: label, PerformanceMetrics field, format.
METRICS = (
    ("total return %", "total_return_pct", "{:,.2f}"),
    ("CAGR %", "cagr_pct", "{:,.2f}"),
    ("Sharpe", "sharpe_ratio", "{:,.2f}"),
    ("Sortino", "sortino_ratio", "{:,.2f}"),
    ("max drawdown %", "max_drawdown_pct", "{:,.2f}"),
    ("win rate %", "win_rate", "{:,.2f}"),
    ("trades", "total_trades", "{:,}"),
    ("profit factor", "profit_factor", "{:,.2f}"),
    ("exposure %", "exposure_pct", "{:,.2f}"),
    ("final equity", "final_equity", "{:,.2f}"),
    ("benchmark return %", "benchmark_return_pct", "{:,.2f}"),
)
LABEL_WIDTH, VALUE_WIDTH = 20, 14


def parse_decimal(value: str, flag: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise InvalidInput(f"{flag} {value!r} is not a number") from None


def parse_param(text: str) -> tuple[str, Any]:
    """NAME=VALUE; the value is an int, else a float, else a bool (true/false), else a string."""
    name, sep, raw = text.partition("=")
    name, raw = name.strip(), raw.strip()
    if not sep or not name:
        raise InvalidInput(f"--param {text!r} is not NAME=VALUE")
    for parse in (int, float):
        try:
            return name, parse(raw)
        except ValueError:
            pass
    if raw.lower() in {"true", "false"}:
        return name, raw.lower() == "true"
    return name, raw


def metrics_table(metrics: PerformanceMetrics) -> list[str]:
    lines = [f"{'metric':<{LABEL_WIDTH}}{'value':>{VALUE_WIDTH}}"]
    for label, field, fmt in METRICS:
        value = getattr(metrics, field)
        text = "n/a" if value is None else fmt.format(value)
        lines.append(f"{label:<{LABEL_WIDTH}}{text:>{VALUE_WIDTH}}")
    return lines


class Command(BaseCommand):
    help = (
        "Backtest a strategy: on stored bars (recorded as a backtest run, with its HTML report) or, "
        "with --csv, on a CSV or Parquet file (nothing stored)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--strategy", help="momentum, mean_reversion, buy_and_hold (or from --config)")
        parser.add_argument("--symbols", default="", help="comma-separated; overrides the config's universe")
        parser.add_argument("--timeframe", help="1m, 5m, 15m, 1h or 1d (default: the config's, or 1d)")
        parser.add_argument("--start", help="first day, YYYY-MM-DD (default: the first bar)")
        parser.add_argument("--end", help="last day, YYYY-MM-DD (default: the last bar)")
        parser.add_argument("--csv", help="backtest this CSV/Parquet file's bars instead of stored ones")
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="a strategy parameter (repeatable); overrides the config's",
        )
        parser.add_argument("--config", help="a strategy config YAML (configs/strategies/*.yaml)")
        parser.add_argument("--initial-capital", help="default 10000")
        parser.add_argument("--commission", help="per fill, in money (default 1)")
        parser.add_argument("--slippage-bps", help="default 10")
        parser.add_argument("--fill-timing", help=f"{' or '.join(FILL_TIMINGS)} (default close)")
        parser.add_argument("--json", help="write the whole result as JSON to this file")
        parser.add_argument("--html", help="write the HTML report to this file")
        parser.add_argument(
            "--fast",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="--fast insists on the compiled fast path, --no-fast runs the bar-by-bar loop "
            "(default: the fast path when it can run)",
        )

    def handle(self, *args, **opts) -> None:
        try:
            strategy_config = self._strategy_config(opts)
            backtest_config = self._backtest_config(opts, strategy_config.timeframe)
            if opts["csv"]:
                result, written = self._on_csv(strategy_config, backtest_config, opts)
            else:
                result, written = self._on_stored(strategy_config, backtest_config, opts)
            if opts["json"]:
                document = json.dumps(ReportGenerator().generate_json(result), indent=2, allow_nan=False)
                written.append(("json result", self._write(Path(opts["json"]), document)))
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        for line in metrics_table(result.metrics):
            self.stdout.write(line)
        for what, path in written:
            self.stdout.write(f"{what}: {path}")

    # --- inputs -------------------------------------------------------------------------------

    def _strategy_config(self, opts: dict) -> StrategyConfig:
        data = strategy_config_load(opts["config"]).model_dump() if opts["config"] else {}
        if opts["strategy"]:
            data["strategy"] = opts["strategy"]
        if not data.get("strategy"):
            raise InvalidInput("give --strategy or --config")
        symbols = [s for s in opts["symbols"].split(",") if s.strip()]
        if symbols:
            data["universe"] = symbols
        elif opts["csv"] and not data.get("universe"):
            data["universe"] = [Path(opts["csv"]).stem]  # GOOG.csv holds GOOG
        if opts["timeframe"]:
            data["timeframe"] = Timeframe.parse(opts["timeframe"])
        data["parameters"] = {**data.get("parameters", {}), **dict(map(parse_param, opts["param"]))}
        return strategy_config_from_dict(data)

    def _backtest_config(self, opts: dict, timeframe: Timeframe) -> BacktestConfig:
        start, end = day_range(parse_day(opts["start"], "--start"), parse_day(opts["end"], "--end"))
        values: dict[str, Any] = {}
        for option, field in (
            ("initial_capital", "initial_capital"),
            ("commission", "commission_per_trade"),
            ("slippage_bps", "slippage_bps"),
        ):
            if opts[option] is not None:
                values[field] = parse_decimal(opts[option], "--" + option.replace("_", "-"))
        if opts["fill_timing"] is not None:
            values["fill_timing"] = opts["fill_timing"]
        return BacktestConfig(**values, start_date=start, end_date=end, timeframe=timeframe)

    # --- the two ways -------------------------------------------------------------------------

    def _on_stored(self, strategy_config, backtest_config, opts) -> tuple[BacktestResult, list]:
        run = backtest_run_create(strategy_config=strategy_config, backtest_config=backtest_config)
        span = date_span(run.start, run.end) or " (all of them)"
        self.stdout.write(
            f"backtest run #{run.pk}: {run.strategy} on {', '.join(run.symbols)} {run.timeframe}, "
            f"stored bars{span}"
        )
        result = backtest_run_execute(run=run, fast=opts["fast"])
        self.stdout.write(self._summary(result, run.duration_seconds))
        written = [("html report", run.report_path)]
        if opts["html"]:
            target = Path(opts["html"])
            self._prepare(target)
            try:
                shutil.copyfile(run.report_path, target)
            except OSError as exc:
                raise InvalidInput(f"{target}: {exc.strerror}") from None
            written.append(("html report", str(target)))
        return result, written

    def _on_csv(self, strategy_config, backtest_config, opts) -> tuple[BacktestResult, list]:
        started = perf_counter()
        result = backtest_csv_compute(
            strategy_config=strategy_config,
            backtest_config=backtest_config,
            csv_path=opts["csv"],
            fast=opts["fast"],
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
        target = Path(opts["html"])
        self._prepare(target)
        return result, [("html report", str(backtest_report_write(result=result, path=target)))]

    # --- output -------------------------------------------------------------------------------

    def _summary(self, result: BacktestResult, seconds: float) -> str:
        curve = result.equity_curve
        span = f" {curve.ts[0]:%Y-%m-%d}..{curve.ts[-1]:%Y-%m-%d}" if len(curve) else ""
        path = result.metadata.get("path", "?")
        return f"{len(curve):,} bars{span}, {path} path, {seconds:.2f} s"

    def _prepare(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInput(f"{path.parent}: {exc.strerror}") from None

    def _write(self, path: Path, text: str) -> str:
        self._prepare(path)
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"{path}: {exc.strerror}") from None
        return str(path)
