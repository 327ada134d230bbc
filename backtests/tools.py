"""The strategy agent's backtest tool: a backtest run started as POST /api/v1/runs/ starts one."""

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from agents.memory import remember
from agents.registry import tool
from backtests.api import BacktestRunSerializer
from backtests.core.results import BacktestConfig
from backtests.services import backtest_run_create, backtest_run_enqueue
from marketdata.core.calendar import day_range
from quantsite.roles import OPERATOR
from strategies.core.config import StrategyConfig

DEFAULTS = BacktestConfig()
Money = Annotated[Decimal, Field(ge=0, max_digits=24, decimal_places=9)]


@tool(agent="strategy", role=OPERATOR)
def backtest_strategy(
    actor,
    strategy_config: StrategyConfig,
    start_date: date | None = None,
    end_date: date | None = None,
    initial_capital: Money = DEFAULTS.initial_capital,
    commission_per_trade: Money = DEFAULTS.commission_per_trade,
    slippage_bps: Money = DEFAULTS.slippage_bps,
    fill_timing: Literal["close", "next_open"] = DEFAULTS.fill_timing,
) -> dict:
    """Backtest a strategy config (strategy, universe, timeframe, parameters, sizing, risk caps) on the
    stored bars of its universe from start_date to end_date (default: all of them), as POST
    /api/v1/runs/ does: validated, kept as a run and queued on the backtests queue. Without a Celery
    broker (the embedded default) it runs at once and the answer carries its metrics; with one, the
    run is queued (poll GET /api/v1/runs/{id}/)."""
    start, end = day_range(start_date, end_date)
    config = BacktestConfig(
        initial_capital=initial_capital,
        commission_per_trade=commission_per_trade,
        slippage_bps=slippage_bps,
        fill_timing=fill_timing,
        start_date=start,
        end_date=end,
        timeframe=strategy_config.timeframe,
    )
    run = backtest_run_create(strategy_config=strategy_config, backtest_config=config, requested_by=actor)
    backtest_run_enqueue(run=run)
    run.refresh_from_db()  # with eager tasks (no broker) it has run already
    remember("strategy", "last_backtest", {"run": run.pk, "strategy": run.strategy, "status": run.status})
    return BacktestRunSerializer(run).data
