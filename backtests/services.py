"""Writes of backtests: validate a request, create and queue a run, execute it, keep its results.

The engine, metrics and reports are the pure core (backtests.core); this module turns a request into
a core run and a core result into a BacktestRun row and an HTML report file.
"""

import dataclasses
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import pandas as pd
from django.db import transaction
from pydantic import ValidationError

from backtests.choices import DataSource, RunStatus
from backtests.core.engine import BacktestEngine
from backtests.core.report import ReportGenerator, downsample_indices, equity_curve_json, to_plain, trade_json
from backtests.core.results import BacktestConfig, BacktestResult, FillTiming
from backtests.models import MAX_STORED_CURVE_POINTS, BacktestRun
from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput, validation_message
from marketdata.selectors import csv_bars_get, stored_bars_check, stored_bars_get
from quantsite.artifacts import artifact_write
from quantsite.runs import run_recorded
from risk.services import risk_policy_get
from strategies.choices import StrategyStage
from strategies.core.base import Strategy
from strategies.core.config import StrategyConfig
from strategies.core.registry import strategy_build
from strategies.lifecycle_services import stage_require, strategy_version_advance
from strategies.models import StrategyVersion

FILL_TIMINGS = get_args(FillTiming)
# A version may be backtested once a backtest was approved for it.
BACKTESTABLE = {s.value for s in StrategyStage} - {StrategyStage.DRAFT, StrategyStage.RETIRED}
COST_FIELDS = (
    "commission_per_trade",
    "commission_per_share",
    "commission_minimum",
    "commission_bps",
    "slippage_bps",
    "volume_impact_bps",
)


# --- configs ---------------------------------------------------------------------------------


def strategy_config_from_dict(data: dict[str, Any]) -> StrategyConfig:
    """A StrategyConfig from plain values (a request, CLI flags over a YAML file)."""
    try:
        return StrategyConfig.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc, "strategy config")) from None


def backtest_config_to_json(config: BacktestConfig) -> dict[str, Any]:
    """Every field of the config as JSON values: Decimals as strings (money stays exact)."""
    return to_plain(config)


def backtest_config_from_json(data: dict[str, Any]) -> BacktestConfig:
    values = {}
    for field in dataclasses.fields(BacktestConfig):
        if field.name not in data:
            continue
        value = data[field.name]
        if isinstance(field.default, Decimal):
            value = Decimal(value)
        elif field.name in {"start_date", "end_date", "trade_start"} and value is not None:
            value = datetime.fromisoformat(value)
        elif field.name == "timeframe":
            value = Timeframe(value)
        values[field.name] = value
    return BacktestConfig(**values)


def backtest_validate(*, strategy_config: StrategyConfig, backtest_config: BacktestConfig) -> Strategy:
    """Everything about a backtest that can be checked before any bar is read; the strategy built
    (an unknown strategy or bad parameters fail here)."""
    strategy = strategy_build(strategy_config)
    if not strategy_config.universe:
        raise InvalidInput("no symbols given")
    if strategy_config.timeframe != backtest_config.timeframe:
        raise InvalidInput(
            f"the strategy config's timeframe {strategy_config.timeframe} differs from the "
            f"backtest's {backtest_config.timeframe}"
        )
    capital = backtest_config.initial_capital
    if not capital.is_finite() or capital <= 0:
        raise InvalidInput(f"initial capital must be positive, not {capital}")
    for name in COST_FIELDS:
        value = getattr(backtest_config, name)
        if not value.is_finite() or value < 0:
            raise InvalidInput(f"{name} must not be negative, not {value}")
    if backtest_config.fill_timing not in FILL_TIMINGS:
        raise InvalidInput(
            f"fill timing {backtest_config.fill_timing!r} is not one of {', '.join(FILL_TIMINGS)}"
        )
    participation = backtest_config.max_participation
    if participation is not None and not 0 < participation <= 1:
        raise InvalidInput(f"max participation must be in (0, 1], not {participation}")
    start, end = backtest_config.start_date, backtest_config.end_date
    if any(t is not None and t.tzinfo is None for t in (start, end)):
        raise InvalidInput("start and end must be timezone-aware")
    if start is not None and end is not None and end < start:
        raise InvalidInput(f"end {end:%Y-%m-%d} is before start {start:%Y-%m-%d}")
    return strategy


# --- computing a backtest (no rows written) -------------------------------------------------------


def backtest_compute(
    *,
    strategy_config: StrategyConfig,
    backtest_config: BacktestConfig,
    data: dict[str, pd.DataFrame],
    fast: bool | None = None,
) -> BacktestResult:
    """Run the engine on bars already loaded. fast: see BacktestEngine.run (None: when it can)."""
    strategy = backtest_validate(strategy_config=strategy_config, backtest_config=backtest_config)
    return BacktestEngine().run(strategy, data, backtest_config, fast=fast)


def backtest_csv_compute(
    *,
    strategy_config: StrategyConfig,
    backtest_config: BacktestConfig,
    csv_path: str | Path,
    fast: bool | None = None,
) -> BacktestResult:
    """Backtest the bars of one CSV (or Parquet) file; nothing is stored. The request is checked
    before the file is read."""
    strategy = backtest_validate(strategy_config=strategy_config, backtest_config=backtest_config)
    bars = _csv_bars(strategy_config, backtest_config, csv_path)
    return BacktestEngine().run(strategy, bars, backtest_config, fast=fast)


def backtest_report_write(*, result: BacktestResult, path: Path) -> Path:
    """The HTML report of result at path."""
    return report_file_write(html=ReportGenerator().generate_html(result), path=path)


def report_file_write(*, html: str, path: Path) -> Path:
    """An HTML report at path. Written beside it first and then renamed, so a reader never gets half
    a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(html, encoding="utf-8")
    partial.replace(path)
    return path


def _csv_bars(
    strategy_config: StrategyConfig, backtest_config: BacktestConfig, csv_path: str | Path
) -> dict[str, pd.DataFrame]:
    symbols = strategy_config.universe
    if len(symbols) != 1:
        raise InvalidInput(
            f"a CSV file holds the bars of one symbol, not {len(symbols)}: {', '.join(symbols)}"
        )
    bars = csv_bars_get(
        path=csv_path,
        symbol=symbols[0],
        timeframe=backtest_config.timeframe,
        start=backtest_config.start_date,
        end=backtest_config.end_date,
    )
    return {symbols[0]: bars}


def backtest_source_check(
    *,
    strategy_config: StrategyConfig,
    backtest_config: BacktestConfig,
    source: str,
    csv_path: str | Path | None,
) -> str:
    """The run's bars can be had from source: every symbol has stored bars in range, or the CSV
    file reads cleanly (one symbol). The CSV path to keep on the run ("" for stored bars)."""
    if source == DataSource.STORED:
        stored_bars_check(
            symbols=strategy_config.universe,
            timeframe=backtest_config.timeframe,
            start=backtest_config.start_date,
            end=backtest_config.end_date,
        )
        return ""
    if source == DataSource.CSV:
        if not csv_path:
            raise InvalidInput("a CSV backtest needs the file's path")
        _csv_bars(strategy_config, backtest_config, csv_path)
        return str(csv_path)
    raise InvalidInput(f"unknown data source {source!r}; use one of {', '.join(DataSource.values)}")


def backtest_bars_load(
    *, strategy_config: StrategyConfig, backtest_config: BacktestConfig, source: str, csv_path: str
) -> dict[str, pd.DataFrame]:
    """A run's bars, a BarFrame per symbol: stored ones in the backtest's range, or the CSV file's."""
    if source == DataSource.CSV:
        return _csv_bars(strategy_config, backtest_config, csv_path)
    return stored_bars_get(
        symbols=strategy_config.universe,
        timeframe=backtest_config.timeframe,
        start=backtest_config.start_date,
        end=backtest_config.end_date,
    )


# --- runs ------------------------------------------------------------------------------------


def backtest_run_create(
    *,
    strategy_config: StrategyConfig,
    backtest_config: BacktestConfig,
    source: str = DataSource.STORED,
    csv_path: str | Path | None = None,
    requested_by=None,
) -> BacktestRun:
    """Validate a backtest request (strategy, parameters, costs, symbols, bars in range) and keep it
    as a queued run."""
    backtest_validate(strategy_config=strategy_config, backtest_config=backtest_config)
    csv_path = backtest_source_check(
        strategy_config=strategy_config, backtest_config=backtest_config, source=source, csv_path=csv_path
    )
    start, end = backtest_config.start_date, backtest_config.end_date
    return BacktestRun.objects.create(
        strategy=strategy_config.strategy,
        config={
            "strategy": strategy_config.model_dump(mode="json"),
            "backtest": backtest_config_to_json(backtest_config),
        },
        symbols=list(strategy_config.universe),
        timeframe=backtest_config.timeframe,
        start=start,
        end=end,
        source=source,
        csv_path=csv_path,
        requested_by=requested_by,
    )


def version_backtest_create(
    *, version: StrategyVersion, backtest_config: BacktestConfig, requested_by=None
) -> BacktestRun:
    """A run of a strategy version: its config, under its risk policy. Only once a backtest was
    approved (BACKTEST_APPROVED or any later stage); the first one done makes it BACKTESTED."""
    stage_require(version=version, stages=BACKTESTABLE, action="a backtest run")
    strategy_config = strategy_config_from_dict(version.config)
    policy = risk_policy_get(version=version).model_dump(mode="json", exclude_unset=True)
    run = backtest_run_create(
        strategy_config=strategy_config,
        backtest_config=dataclasses.replace(backtest_config, risk_policy=policy),
        requested_by=requested_by,
    )
    run.strategy_version = version
    run.save(update_fields=["strategy_version"])
    return run


def backtest_run_enqueue(*, run: BacktestRun) -> None:
    from backtests.tasks import backtest_run_execute_task

    transaction.on_commit(lambda: backtest_run_execute_task.delay(run.pk))


def backtest_run_execute(*, run: BacktestRun, fast: bool | None = None) -> BacktestResult:
    """Load the bars, run the engine, write the HTML report and keep the results on the run (status
    done); the engine's whole result is returned too (the CLI writes its JSON). Any failure marks
    the run failed with its message and is raised again."""
    run.metrics, run.trades, run.equity_curve, run.report_path = None, [], [], ""

    def summary() -> dict:
        return {"strategy": run.strategy, "trades": len(run.trades)}

    with run_recorded(
        run, running=RunStatus.RUNNING, failed=RunStatus.FAILED, event="backtest finished", summary=summary
    ):
        strategy_config = strategy_config_from_dict(run.config["strategy"])
        backtest_config = backtest_config_from_json(run.config["backtest"])
        data = backtest_bars_load(
            strategy_config=strategy_config,
            backtest_config=backtest_config,
            source=run.source,
            csv_path=run.csv_path,
        )
        result = backtest_compute(
            strategy_config=strategy_config, backtest_config=backtest_config, data=data, fast=fast
        )
        report = artifact_write(backtest_report_name(run=run), ReportGenerator().generate_html(result))
        _result_keep(run, result, report)
    version = run.strategy_version
    if version is not None and version.stage == StrategyStage.BACKTEST_APPROVED:
        strategy_version_advance(version=version, to=StrategyStage.BACKTESTED, actor=run.requested_by)
    return result


def backtest_report_name(*, run: BacktestRun) -> str:
    """The name of the run's HTML report in the artifact storage."""
    return f"backtests/run-{run.pk}.html"


def _result_keep(run: BacktestRun, result: BacktestResult, report: str) -> None:
    """The result's metrics, trades and (downsampled) equity curve on the run, and the name of its
    report; status done. The caller saves the run."""
    curve = result.equity_curve
    keep = downsample_indices(curve.equity, MAX_STORED_CURVE_POINTS)
    run.metrics = to_plain(result.metrics)
    run.trades = [trade_json(t) for t in result.trades]
    run.equity_curve = equity_curve_json(curve, keep)
    run.report_path = report
    run.status = RunStatus.DONE
