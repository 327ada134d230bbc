"""What a backtest produces: its config, equity curve, trades and metrics (the seed's section 4)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from execution.core.ledger import Trade, Trades
from execution.core.option_book import OptionTrade, Settlement
from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput

__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "EquityCurve",
    "EquityPoint",
    "PerformanceMetrics",
    "Trade",
    "Trades",
]

FillTiming = Literal["close", "next_open"]


@dataclass(frozen=True)
class BacktestConfig:
    """How a backtest simulates the market. Money is Decimal here, at the boundary."""

    initial_capital: Decimal = Decimal("10000")
    commission_per_trade: Decimal = Decimal("1.00")  # the seed's default: $1 per fill
    commission_per_share: Decimal = Decimal("0")
    commission_minimum: Decimal = Decimal("0")
    commission_bps: Decimal = Decimal("0")
    slippage_bps: Decimal = Decimal("10")  # the seed's default
    volume_impact_bps: Decimal = Decimal("0")  # extra bps at 100% participation (square-root law)
    max_participation: float | None = None  # cap on qty / bar volume; the rest fills on later bars
    fill_timing: FillTiming = "close"
    start_date: datetime | None = None
    end_date: datetime | None = None
    # Bars before trade_start only warm the strategy up (its indicators see them): no signal is
    # acted on, and the equity curve, trades and metrics start at the first bar at or after it.
    trade_start: datetime | None = None
    timeframe: Timeframe = Timeframe.D1
    risk_free_rate: float = 0.0
    # A RiskPolicy's values ({"level": 6, ...}): every order passes a PolicyRiskManager with it, as
    # on paper and live. None: no policy (research; the strategy's own sizing and caps only).
    risk_policy: dict | None = None

    def first_traded_step(self, timeline: pd.DatetimeIndex) -> int:
        """The first step of timeline at or after trade_start (0 without one)."""
        if self.trade_start is None:
            return 0
        # numpy's search on the UTC times: pandas' checks of the key cost more than the search,
        # and a parameter search asks this of every run.
        key = np.datetime64(self.trade_start.astimezone(UTC).replace(tzinfo=None))
        first = int(np.searchsorted(timeline.values, key))
        if first == len(timeline):
            raise InvalidInput(f"no bars at or after trade_start {self.trade_start.isoformat()}")
        return first


@dataclass(frozen=True)
class EquityPoint:
    ts: datetime
    equity: float
    cash: float
    exposure: float  # gross position value / equity


@dataclass(frozen=True)
class PerformanceMetrics:
    # The seed's fields
    total_return: float
    total_return_pct: float
    sharpe_ratio: float | None
    max_drawdown: float
    max_drawdown_pct: float
    win_rate: float
    total_trades: int
    winning_trades: int
    losing_trades: int
    avg_win: float | None
    avg_loss: float | None
    profit_factor: float | None
    # Beyond the seed
    final_equity: float
    cagr_pct: float | None
    volatility_pct: float | None
    sortino_ratio: float | None
    calmar_ratio: float | None
    exposure_pct: float
    turnover: float  # traded notional / average equity, per year
    avg_holding_bars: float | None
    best_trade_pct: float | None
    worst_trade_pct: float | None
    benchmark_return_pct: float | None  # buy-and-hold of the same data
    excess_return_pct: float | None
    alpha_pct: float | None  # annualised, CAPM against the benchmark
    beta: float | None
    periods_per_year: float


class EquityCurve(Sequence[EquityPoint]):
    """The equity curve as arrays, read as a sequence of EquityPoint (built only when read), so a
    million-bar backtest does not build a million objects it may never look at."""

    def __init__(
        self, ts: pd.DatetimeIndex, equity: np.ndarray, cash: np.ndarray, exposure: np.ndarray
    ) -> None:
        self.ts, self.equity, self.cash, self.exposure = ts, equity, cash, exposure

    def __len__(self) -> int:
        return len(self.equity)

    @overload
    def __getitem__(self, i: int) -> EquityPoint: ...
    @overload
    def __getitem__(self, i: slice) -> list[EquityPoint]: ...
    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return EquityPoint(
            self.ts[i].to_pydatetime(), float(self.equity[i]), float(self.cash[i]), float(self.exposure[i])
        )

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"equity": self.equity, "cash": self.cash, "exposure": self.exposure}, index=self.ts
        )


@dataclass
class BacktestResult:
    strategy_id: str
    config: BacktestConfig
    equity_curve: EquityCurve
    trades: Trades
    metrics: PerformanceMetrics
    start_time: datetime
    end_time: datetime
    metadata: dict[str, Any] = field(default_factory=dict)
    backtest_id: uuid.UUID = field(default_factory=uuid.uuid4)
    # For reports: each symbol's closes (entry/exit markers go on them) and the buy-and-hold equity
    # of the same capital in the same data (an equal-weight basket when there are several symbols).
    prices: dict[str, pd.Series] = field(default_factory=dict)
    benchmark_curve: pd.Series | None = None
    # An options backtest's spreads, each closed or settled as one (legs, net prices, greeks at
    # entry, P&L per leg), and every contract settled at expiry; empty for stocks.
    option_trades: list[OptionTrade] = field(default_factory=list)
    option_settlements: list[Settlement] = field(default_factory=list)
