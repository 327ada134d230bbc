"""Writes of backtests: validate a request, create and queue a run, execute it, keep its results.

The engine, metrics and reports are the pure core (backtests.core); this module turns a request into
a core run and a core result into a BacktestRun row and an HTML report file.
"""

import dataclasses
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import pandas as pd
from django.db import transaction
from pydantic import ValidationError

from backtests.choices import DataSource, RunStatus
from backtests.core.engine import BacktestEngine
from backtests.core.options_engine import OptionsBacktestEngine, OptionsConfig
from backtests.core.report import (
    ReportGenerator,
    downsample_indices,
    equity_curve_json,
    option_trade_json,
    to_plain,
    trade_json,
)
from backtests.core.results import BacktestConfig, BacktestResult, FillTiming
from backtests.models import MAX_STORED_CURVE_POINTS, BacktestRun
from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput, NotFound, validation_message
from marketdata.core.providers.synthetic_chains import DEFAULT_SEED, SyntheticChainConfig, synthetic_chains
from marketdata.selectors import csv_bars_get, date_span, stored_bars_check, stored_bars_get
from quantsite.artifacts import artifact_write
from quantsite.runs import run_recorded
from risk.services import risk_policy_get
from strategies.choices import StrategyStage
from strategies.core.base import Strategy
from strategies.core.config import StrategyConfig
from strategies.core.option_strategies import OptionStrategy
from strategies.core.registry import strategy_build, strategy_class
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
# Calendar days of bars an options backtest reads before its first session: its chains (synthetic,
# from the bars) are then the same whatever range is asked for.
CHAIN_HISTORY_DAYS = SyntheticChainConfig().history_days


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


def options_config_from_json(data: dict[str, Any]) -> OptionsConfig:
    """An options backtest's OptionsConfig from its JSON form (backtest_config_to_json's)."""
    values = dict(data)
    if "commission_per_contract" in values:
        values["commission_per_contract"] = Decimal(values["commission_per_contract"])
    try:
        return OptionsConfig(**values)
    except TypeError:
        known = ", ".join(f.name for f in dataclasses.fields(OptionsConfig))
        raise InvalidInput(f"unknown options setting in {sorted(data)}; known: {known}") from None


def is_option_strategy(strategy_config: StrategyConfig) -> bool:
    return issubclass(strategy_class(strategy_config.strategy), OptionStrategy)


def backtest_validate(
    *, strategy_config: StrategyConfig, backtest_config: BacktestConfig
) -> Strategy | OptionStrategy:
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
    options: OptionsConfig | None = None,
    chain_seed: int = DEFAULT_SEED,
) -> BacktestResult:
    """Run the engine on bars already loaded. fast: see BacktestEngine.run (None: when it can). An
    option strategy runs on the options engine over synthetic chains of its underlying's bars
    (seeded by chain_seed), with options' settings."""
    strategy = backtest_validate(strategy_config=strategy_config, backtest_config=backtest_config)
    return _engine_run(strategy, backtest_config, data, fast, options, chain_seed)


def _engine_run(
    strategy: Strategy | OptionStrategy,
    backtest_config: BacktestConfig,
    data: dict[str, pd.DataFrame],
    fast: bool | None,
    options: OptionsConfig | None,
    chain_seed: int,
) -> BacktestResult:
    if not isinstance(strategy, OptionStrategy):
        return BacktestEngine().run(strategy, data, backtest_config, fast=fast)
    if fast:
        raise InvalidInput("options backtests have no compiled fast path: drop --fast")
    return _options_compute(strategy, backtest_config, data, options, chain_seed)


def _options_compute(
    strategy: OptionStrategy,
    backtest_config: BacktestConfig,
    data: dict[str, pd.DataFrame],
    options: OptionsConfig | None,
    chain_seed: int,
) -> BacktestResult:
    """The options engine on the underlying's bars and the synthetic chains priced from them. The
    first session traded is the later of the backtest's start and CHAIN_HISTORY_DAYS after the
    first bar (the bars before it price the first chains)."""
    underlying = strategy.underlying
    bars = data[underlying]
    start, end = backtest_config.start_date, backtest_config.end_date
    first = bars.index[0] + timedelta(days=CHAIN_HISTORY_DAYS)
    first = first if start is None else max(first, pd.Timestamp(start))
    last = bars.index[-1] if end is None else min(bars.index[-1], pd.Timestamp(end))
    if first > last:
        raise InvalidInput(
            f"the bars of {underlying} from {bars.index[0]:%Y-%m-%d} to {bars.index[-1]:%Y-%m-%d} are too "
            f"few for an options backtest{date_span(start, end)}: its chains are priced from the "
            f"{CHAIN_HISTORY_DAYS} calendar days of bars before its first session; "
            f"{_ingest_hint(underlying)}"
        )
    chains = synthetic_chains(underlying, bars, first.to_pydatetime(), last.to_pydatetime(), seed=chain_seed)
    trade_start = backtest_config.trade_start
    if trade_start is None or trade_start < first:
        backtest_config = dataclasses.replace(backtest_config, trade_start=first.to_pydatetime())
    return OptionsBacktestEngine().run(strategy, bars, chains, backtest_config, options)


def _ingest_hint(symbol: str) -> str:
    return (
        f"ingest its daily bars first, e.g. python manage.py ingest --provider synthetic --symbols {symbol} "
        "--years 3 --timeframe 1d"
    )


def backtest_csv_compute(
    *,
    strategy_config: StrategyConfig,
    backtest_config: BacktestConfig,
    csv_path: str | Path,
    fast: bool | None = None,
    options: OptionsConfig | None = None,
    chain_seed: int = DEFAULT_SEED,
) -> BacktestResult:
    """Backtest the bars of one CSV (or Parquet) file; nothing is stored. The request is checked
    before the file is read."""
    strategy = backtest_validate(strategy_config=strategy_config, backtest_config=backtest_config)
    bars = _csv_bars(strategy_config, backtest_config, csv_path)
    return _engine_run(strategy, backtest_config, bars, fast, options, chain_seed)


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
        start=_bars_start(strategy_config, backtest_config),
        end=backtest_config.end_date,
    )
    return {symbols[0]: bars}


def _bars_start(strategy_config: StrategyConfig, backtest_config: BacktestConfig) -> datetime | None:
    """Where a run's bars start: at its start, or CHAIN_HISTORY_DAYS before for an option strategy
    (the bars before the start price its first chains)."""
    start = backtest_config.start_date
    if start is None or not is_option_strategy(strategy_config):
        return start
    return start - timedelta(days=CHAIN_HISTORY_DAYS)


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
        try:
            stored_bars_check(
                symbols=strategy_config.universe,
                timeframe=backtest_config.timeframe,
                start=backtest_config.start_date,
                end=backtest_config.end_date,
            )
        except (NotFound, InvalidInput) as exc:
            if not is_option_strategy(strategy_config):
                raise
            raise type(exc)(f"{exc.message}; {_ingest_hint(strategy_config.universe[0])}") from None
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
        start=_bars_start(strategy_config, backtest_config),
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
    options: OptionsConfig | None = None,
    chain_seed: int = DEFAULT_SEED,
) -> BacktestRun:
    """Validate a backtest request (strategy, parameters, costs, symbols, bars in range) and keep it
    as a queued run. An option strategy's run keeps its options settings (default OptionsConfig)
    and the seed of its synthetic chains; a share strategy takes neither."""
    strategy = backtest_validate(strategy_config=strategy_config, backtest_config=backtest_config)
    csv_path = backtest_source_check(
        strategy_config=strategy_config, backtest_config=backtest_config, source=source, csv_path=csv_path
    )
    config = {
        "strategy": strategy_config.model_dump(mode="json"),
        "backtest": backtest_config_to_json(backtest_config),
    }
    if isinstance(strategy, OptionStrategy):
        config["options"] = to_plain(options or OptionsConfig())
        config["chains"] = {"source": "synthetic", "seed": chain_seed}
    elif options is not None or chain_seed != DEFAULT_SEED:
        raise InvalidInput(
            f"options settings and a chain seed are for option strategies; {strategy_config.strategy} "
            "trades shares"
        )
    start, end = backtest_config.start_date, backtest_config.end_date
    return BacktestRun.objects.create(
        strategy=strategy_config.strategy,
        config=config,
        symbols=list(strategy_config.universe),
        timeframe=backtest_config.timeframe,
        start=start,
        end=end,
        source=source,
        csv_path=csv_path,
        requested_by=requested_by,
    )


def version_backtest_create(
    *,
    version: StrategyVersion,
    backtest_config: BacktestConfig,
    requested_by=None,
    options: OptionsConfig | None = None,
    chain_seed: int = DEFAULT_SEED,
) -> BacktestRun:
    """A run of a strategy version: its config, under its risk policy (options and chain_seed: as
    backtest_run_create's). Only once a backtest was approved (BACKTEST_APPROVED or any later
    stage); the first one done makes it BACKTESTED."""
    stage_require(version=version, stages=BACKTESTABLE, action="a backtest run")
    strategy_config = strategy_config_from_dict(version.config)
    policy = risk_policy_get(version=version).model_dump(mode="json", exclude_unset=True)
    run = backtest_run_create(
        strategy_config=strategy_config,
        backtest_config=dataclasses.replace(backtest_config, risk_policy=policy),
        requested_by=requested_by,
        options=options,
        chain_seed=chain_seed,
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
    run.metrics, run.trades, run.option_trades, run.equity_curve, run.report_path = None, [], [], [], ""

    def summary() -> dict:
        counts = {"option_trades": len(run.option_trades)} if "options" in run.config else {}
        return {"strategy": run.strategy, "trades": len(run.trades), **counts}

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
        options = run.config.get("options")
        result = backtest_compute(
            strategy_config=strategy_config,
            backtest_config=backtest_config,
            data=data,
            fast=fast,
            options=None if options is None else options_config_from_json(options),
            chain_seed=run.config.get("chains", {}).get("seed", DEFAULT_SEED),
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
    """The result's metrics, trades, option trades and (downsampled) equity curve on the run, and the
    name of its report; status done. The caller saves the run."""
    curve = result.equity_curve
    keep = downsample_indices(curve.equity, MAX_STORED_CURVE_POINTS)
    run.metrics = to_plain(result.metrics)
    run.trades = [trade_json(t) for t in result.trades]
    run.option_trades = [option_trade_json(t) for t in result.option_trades]
    run.equity_curve = equity_curve_json(curve, keep)
    run.report_path = report
    run.status = RunStatus.DONE
