"""The options backtest: an options strategy over an underlying's daily bars and its chains, with
the broker, book and risk checks of paper trading.

    for each session, at its close:
        contracts expiring that day (or before, on a day without a session) settle at the close
        the book is marked to the session's chain (by quote or by model)
        working option orders (limits) meet the chain
        orders = strategy.on_chain(chain, book)
        each order: risk_manager.check_order(order, book) (execution.core.option_runner) ->
            an OptionOrder fills as one at the net of its legs at the touch (execution.core.option_fills)
            an Order (shares of the underlying) fills at the close with the equity costs
        equity = cash + shares x spot + contracts at their marks

A session without a chain settles expiries and keeps the last marks; the strategy is not asked.
The equity curve is one point per session; trades are the share round trips; option_trades are the
spreads (opened and closed or settled as one); the metrics count both kinds of round trip.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

import numpy as np
import pandas as pd

from backtests.core.engine import BacktestEngine, _buy_and_hold, costs_of, prepare_bars
from backtests.core.metrics import compute_metrics
from backtests.core.results import BacktestConfig, BacktestResult, EquityCurve
from execution.core.ledger import Trade, TradeLedger, Trades
from execution.core.option_book import MarkBy, OptionBook, OptionTrade, Settle, book_terms_check
from execution.core.option_fills import OptionCommission
from execution.core.option_runner import OptionRunner
from execution.core.simulated import SimulatedBroker
from marketdata.core.bars import BarArrays
from marketdata.core.errors import InvalidInput
from marketdata.core.providers.option_chains import CHAIN_COLUMNS
from risk.core.manager import Decision, RiskManager
from strategies.core.option_chain import ChainSnapshot
from strategies.core.options import OptionFill, OptionOrder, OptionPortfolioView
from strategies.core.types import Fill, Order, PriceBar


@dataclass(frozen=True)
class OptionsConfig:
    """How an options backtest trades options, beside its BacktestConfig (capital, share costs):
    the commission per contract, how contracts in the money settle at expiry ("cash" at their
    intrinsic value, "assign" into shares at the strike), how contracts are marked ("quote": the
    mid; "model": Black-Scholes-Merton at the quote's implied volatility), and the rate and
    dividend yield the model and missing greeks are priced with."""

    commission_per_contract: Decimal = Decimal("0.65")
    settlement: Settle = "cash"
    marks: MarkBy = "quote"
    rate: float = 0.04
    dividend_yield: float = 0.0

    def __post_init__(self) -> None:
        book_terms_check(self.settlement, self.marks)


class OptionStrategy(Protocol):
    """What the engine asks of an options strategy (strategies.core.option_strategies)."""

    underlying: str

    def on_chain(self, chain: ChainSnapshot, book: OptionPortfolioView) -> list[OptionOrder | Order]: ...

    def on_option_fill(self, fill: OptionFill) -> None: ...

    def on_fill(self, fill: Fill) -> None: ...


class OptionsBacktestEngine:
    def __init__(self, risk_manager: RiskManager | None = None) -> None:
        """risk_manager: as BacktestEngine's (None: the config's policy, or the permissive one)."""
        self.risk_manager = risk_manager

    def run(
        self,
        strategy: OptionStrategy,
        bars: pd.DataFrame | BarArrays,
        chains: pd.DataFrame,
        config: BacktestConfig,
        options: OptionsConfig | None = None,
    ) -> BacktestResult:
        """Backtest strategy on the underlying's daily bars (a BarFrame) and its chains (a
        ChainFrame, e.g. from synthetic_chains)."""
        started = datetime.now(UTC)
        options = options or OptionsConfig()
        underlying = strategy.underlying
        if config.timeframe.is_intraday:
            raise InvalidInput("options backtests run on daily bars, with a chain per session")
        if config.fill_timing != "close":
            raise InvalidInput(
                "options backtests fill at each session's close, the chain's time: use fill_timing 'close'"
            )
        data = prepare_bars({underlying: bars}, strategy, config)[underlying]
        first = config.first_traded_step(data.ts)
        sessions = _Sessions(data, _checked_chains(chains, underlying), options)
        risk = BacktestEngine(self.risk_manager).risk_manager_for(config)
        run = _Run(strategy, data, sessions, config, options, risk)
        run.simulate(first)

        book, timeline = run.book, data.ts
        curve = EquityCurve(timeline[first:], run.equity[first:], run.cash[first:], run.exposure[first:])
        share_trades = list(run.ledger.trades)
        rows = share_trades + [_as_trade(t, timeline) for t in book.option_trades]
        benchmark = _buy_and_hold({underlying: data}, timeline, first, float(config.initial_capital))
        metrics = compute_metrics(
            equity=curve.equity,
            exposure=curve.exposure,
            trades=Trades.from_records(rows),
            traded_notional=book.traded_notional,
            initial_capital=float(config.initial_capital),
            timeframe=config.timeframe,
            benchmark_close=benchmark,
            risk_free_rate=config.risk_free_rate,
        )
        name = getattr(strategy, "name", type(strategy).__name__)
        return BacktestResult(
            strategy_id=name,
            config=config,
            equity_curve=curve,
            trades=Trades.from_records(share_trades),
            metrics=metrics,
            start_time=started,
            end_time=datetime.now(UTC),
            metadata={
                "strategy": name,
                "symbols": [underlying],
                "bars": len(curve),
                "path": "options",
                "options": options,
                "sessions_without_chain": run.sessions_without_chain,
                "rejected_orders": [{"order": o.id, "reason": reason} for o, reason in run.broker.rejected],
            },
            prices={underlying: pd.Series(data.close[first:], index=timeline[first:], name="close")},
            benchmark_curve=pd.Series(benchmark, index=curve.ts),
            option_trades=list(book.option_trades),
            option_settlements=list(book.settlements),
        )


def _checked_chains(chains: pd.DataFrame, underlying: str) -> pd.DataFrame:
    missing = [c for c in CHAIN_COLUMNS if c not in chains.columns]
    if missing:
        raise InvalidInput(f"option chains lack column(s) {', '.join(missing)} (a ChainFrame)")
    others = sorted(set(chains["underlying"].unique()) - {underlying})
    if others:
        raise InvalidInput(f"the chains are of {', '.join(others)}; the strategy trades {underlying}")
    if not chains["ts"].is_monotonic_increasing:
        chains = chains.sort_values("ts", kind="stable", ignore_index=True)
    # Python strings in numpy arrays: every session's snapshot reads them, and Arrow-backed strings
    # are slow to read one at a time.
    return chains.astype(dict.fromkeys(("symbol", "underlying", "right"), object))


class _Sessions:
    """Each session's chain, as a ChainSnapshot of its rows: the rows are cut from the frame by
    position (the frame sorted by time is searched once), not filtered per session."""

    def __init__(self, data: BarArrays, chains: pd.DataFrame, options: OptionsConfig) -> None:
        stamps = pd.DatetimeIndex(chains["ts"]).as_unit("ns").asi8
        days = data.ts.as_unit("ns").asi8
        self.starts = np.searchsorted(stamps, days, side="left")
        self.stops = np.searchsorted(stamps, days, side="right")
        self.chains, self.data, self.options = chains, data, options
        if not (self.stops > self.starts).any():
            raise InvalidInput(f"no option chain of {data.symbol} on any session of the backtest")

    def chain(self, step: int, ts: datetime) -> ChainSnapshot | None:
        start, stop = self.starts[step], self.stops[step]
        if start == stop:
            return None
        return ChainSnapshot(
            self.chains.iloc[start:stop],
            spot=float(self.data.close[step]),
            ts=ts,
            rate=self.options.rate,
            dividend_yield=self.options.dividend_yield,
        )


class _Run:
    """One simulation: the book, its broker, the ledger of share fills, and every session's equity."""

    def __init__(self, strategy, data, sessions, config, options, risk) -> None:
        self.strategy, self.data, self.sessions, self.risk = strategy, data, sessions, risk
        self.book = OptionBook(
            float(config.initial_capital), settlement=options.settlement, marks=options.marks
        )
        commission, slippage = costs_of(config)
        self.broker = SimulatedBroker(
            self.book,
            commission=commission,
            slippage=slippage,
            fill_timing="close",
            option_commission=OptionCommission(float(options.commission_per_contract)),
        )
        self.ledger = TradeLedger()
        n = len(data)
        capital = float(config.initial_capital)
        self.equity, self.cash, self.exposure = np.full(n, capital), np.full(n, capital), np.zeros(n)
        self.sessions_without_chain = 0
        self._on_trade_closed = getattr(risk, "on_trade_closed", None)
        self._reported = 0  # option trades told to the risk manager
        self.runner = OptionRunner(
            strategy, risk_manager=risk, portfolio=self.book, send=self._submit, refused=self._refused
        )
        # The session's chain and step, while the strategy decides on it.
        self._chain: ChainSnapshot | None = None
        self._step = 0

    def simulate(self, first: int) -> None:
        data, book, broker, strategy = self.data, self.book, self.broker, self.strategy
        underlying = data.symbol
        on_step = getattr(self.risk, "on_step", None)
        times = data.ts.to_pydatetime()
        for step in range(first, len(data)):
            ts, close = times[step], float(data.close[step])
            chain = self.sessions.chain(step, ts)
            for settlement in book.session_open(underlying, ts, close, chain, step):
                if settlement.fill is not None:
                    self._record(settlement.fill)
            self._report_option_trades()
            if on_step is not None:
                on_step(ts, book.equity, new_session=True)
            if chain is None:
                self.sessions_without_chain += 1
            else:
                for fill in broker.on_chain(chain):
                    strategy.on_option_fill(fill)
                self._report_option_trades()
                self._chain, self._step = chain, step
                self.runner.on_chain(chain)
            equity, gross = book.valuation()
            self.equity[step], self.cash[step] = equity, book.cash
            self.exposure[step] = gross / equity if equity > 0 else 0.0

    def _submit(self, order: OptionOrder | Order, signal: str) -> None:
        """An order the risk manager approved, to the broker at this session's chain and bar."""
        data, step = self.data, self._step
        if isinstance(order, Order) and order.symbol != data.symbol:
            raise InvalidInput(f"an options backtest of {data.symbol} trades no shares of {order.symbol}")
        if isinstance(order, OptionOrder):
            fill = self.broker.submit_option(order, self._chain)
            if fill is not None:
                self.strategy.on_option_fill(fill)
                self._report_option_trades()
            return
        prices = (float(getattr(data, c)[step]) for c in ("open", "high", "low", "close", "volume"))
        bar = PriceBar(data.symbol, self._chain.ts, *prices, step)
        for fill in self.broker.submit(order, bar):
            self._record(fill)

    def _refused(self, order: OptionOrder | Order, decision: Decision) -> None:
        self.broker.rejected.append((order, "; ".join(r.message for r in decision.reasons)))

    def _record(self, fill: Fill) -> None:
        closed = len(self.ledger.trades)
        self.ledger.record(fill)
        self.strategy.on_fill(fill)
        if self._on_trade_closed is not None:
            for trade in self.ledger.trades[closed:]:
                self._on_trade_closed(trade.symbol, trade.pnl, fill.ts)

    def _report_option_trades(self) -> None:
        trades = self.book.option_trades
        if self._on_trade_closed is not None:
            for trade in trades[self._reported :]:
                self._on_trade_closed(trade.underlying, trade.pnl, trade.exit_time)
        self._reported = len(trades)


def _as_trade(trade: OptionTrade, timeline: pd.DatetimeIndex) -> Trade:
    """A spread as a round trip for the metrics: long when opened for a debit, short for a credit,
    at its net prices per unit per share."""
    return Trade(
        trade.underlying,
        "long" if trade.entry_price > 0 else "short",
        float(trade.units),
        trade.entry_time,
        trade.entry_price,
        trade.exit_time,
        trade.exit_price,
        trade.pnl,
        trade.commission,
        int(timeline.searchsorted(trade.entry_time)),
        int(timeline.searchsorted(trade.exit_time)),
    )
