"""Command-line pieces shared by the backtest and walkforward commands: the strategy, data and cost
flags, their parsing into configs, the metrics table, and writing output files."""

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from backtests.core.options_engine import OptionsConfig
from backtests.core.results import BacktestConfig, PerformanceMetrics
from backtests.services import FILL_TIMINGS, strategy_config_from_dict
from marketdata.core.bars import Timeframe
from marketdata.core.calendar import day_range, parse_day
from marketdata.core.errors import InvalidInput
from marketdata.core.providers.synthetic_chains import DEFAULT_SEED
from quantsite.artifacts import artifact_location, artifact_read
from quantsite.cli import parse_param
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


def add_backtest_arguments(parser, *, what: str = "backtest") -> None:
    """The flags of a backtest: strategy, symbols, dates, data source, parameters, costs, outputs."""
    parser.add_argument(
        "--strategy",
        help="momentum, mean_reversion, buy_and_hold, ml_classifier; covered_call, bull_put_spread, "
        "iron_condor (options) (or from --config)",
    )
    parser.add_argument("--symbols", default="", help="comma-separated; overrides the config's universe")
    parser.add_argument("--timeframe", help="1m, 5m, 15m, 1h or 1d (default: the config's, or 1d)")
    parser.add_argument("--start", help="first day, YYYY-MM-DD (default: the first bar)")
    parser.add_argument("--end", help="last day, YYYY-MM-DD (default: the last bar)")
    parser.add_argument("--csv", help=f"{what} this CSV/Parquet file's bars instead of stored ones")
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


def parse_decimal(value: str, flag: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise InvalidInput(f"{flag} {value!r} is not a number") from None


def strategy_config_from_options(opts: dict) -> StrategyConfig:
    """The strategy config of --config, with --strategy, --symbols, --timeframe and --param over it."""
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


def backtest_config_from_options(opts: dict, timeframe: Timeframe) -> BacktestConfig:
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


def add_options_arguments(parser) -> None:
    """The flags of an options backtest: its chains' seed, expiry settlement, marks and commission."""
    parser.add_argument(
        "--chain-seed",
        type=int,
        default=DEFAULT_SEED,
        help=f"seed of the synthetic option chains built from the bars (default {DEFAULT_SEED})",
    )
    parser.add_argument(
        "--settlement", help="options in the money at expiry: cash (default) or assign (shares)"
    )
    parser.add_argument("--option-marks", help="options marked by quote (the mid; default) or model")
    parser.add_argument("--contract-commission", help="per option contract (default 0.65)")


def options_run_arguments(opts: dict) -> dict[str, Any]:
    """The options flags as a run's ``options`` (an OptionsConfig; None when none is given: the
    run's defaults) and ``chain_seed``."""
    values: dict[str, Any] = {}
    if opts["settlement"] is not None:
        values["settlement"] = opts["settlement"]
    if opts["option_marks"] is not None:
        values["marks"] = opts["option_marks"]
    if opts["contract_commission"] is not None:
        commission = parse_decimal(opts["contract_commission"], "--contract-commission")
        if not commission.is_finite() or commission < 0:
            raise InvalidInput(f"--contract-commission must not be negative, not {commission}")
        values["commission_per_contract"] = commission
    return {"options": OptionsConfig(**values) if values else None, "chain_seed": opts["chain_seed"]}


def metrics_table(metrics: PerformanceMetrics | dict[str, Any]) -> list[str]:
    """The headline metrics, one a line (of a result, or of its JSON form)."""
    lines = [f"{'metric':<{LABEL_WIDTH}}{'value':>{VALUE_WIDTH}}"]
    for label, field, fmt in METRICS:
        value = metrics.get(field) if isinstance(metrics, dict) else getattr(metrics, field)
        text = "n/a" if value is None else fmt.format(value)
        lines.append(f"{label:<{LABEL_WIDTH}}{text:>{VALUE_WIDTH}}")
    return lines


def path_prepare(path: Path) -> Path:
    """path, its folder created."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"{path.parent}: {exc.strerror}") from None
    return path


def text_write(path: Path, text: str) -> str:
    path_prepare(path)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{path}: {exc.strerror}") from None
    return str(path)


def run_reports(report: str, html: str | None) -> list[tuple[str, str]]:
    """Where a stored run's HTML report is (report: its name in the artifact storage), and the copy
    of it written at html when one is asked for."""
    written = [("html report", artifact_location(report))]
    if html:
        target = path_prepare(Path(html))
        content = artifact_read(report)
        try:
            target.write_bytes(content)
        except OSError as exc:
            raise InvalidInput(f"{target}: {exc.strerror}") from None
        written.append(("html report", str(target)))
    return written
