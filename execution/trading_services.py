"""Trading sessions: a strategy version on paper or live, bar by bar, through the risk manager and
the OMS (DESIGN.md section 8).

    bar -> strategy -> orders -> RiskManager -> OMS (stored, then sent) -> BrokerClient -> fills

Before it starts, a session checks everything that must hold, and refuses with one line that names
all that is missing: the version's stage (paper needs an approved paper stage, live an approved
live stage), the trading state (nothing starts HALTED), and for live: LIVE_TRADING_ENABLED, a real
broker, and its live keys. Through a real broker it reconciles first, and a mismatch refuses it.
At every bar it reads the trading states again (the kill switch may have been engaged from
anywhere): while HALTED its risk manager refuses every order (the kill switch's flatten, its
reduce-only closes of the shares and contracts held, does not ask it), and on the paper broker the
session drops its working orders itself.

Each order is stored before it is sent; what the broker answers during a bar (the paper broker
fills at once) is applied at the bar's end, in one transaction for all its orders. The strategy and
the risk manager do not wait for it: the paper broker's account and the session's ledger of round
trips move at each fill, as in the backtest.
"""

import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import structlog
from django.conf import settings

from backtests.core.engine import costs_of
from backtests.core.results import BacktestConfig
from execution.brokers import broker_client_build
from execution.choices import BrokerName, TradingMode
from execution.core.brokers.base import BrokerClient, LegRequest, OptionOrderRequest, TradeUpdate
from execution.core.brokers.simulated import SimulatedBrokerClient, decimal_of
from execution.core.ledger import TradeLedger
from execution.core.option_book import OptionBook
from execution.core.option_runner import OptionRunner, fill_since
from execution.core.portfolio import Position as CorePosition
from execution.core.runner import StepReport, StrategyRunner
from execution.manual_order_services import (
    core_order_of,
    core_order_text,
    manual_orders_take,
    option_order_priced,
    refusal_text,
    spec_of,
)
from execution.models import Order, OrderLeg, Position, TradingAccount
from execution.position_services import (
    closing_order,
    position_close_done,
    position_closes_take,
    working_orders_cancel,
)
from execution.reconciliation_services import reconcile
from execution.selectors import chain_latest_get
from execution.services import (
    Later,
    OptionOrderSpec,
    OrderSpec,
    Progress,
    account_open,
    option_settlements_record,
    order_cancel,
    order_client_id,
    order_place,
    order_submit,
    orders_progress,
)
from marketdata.core.bars import BAR_COLUMNS, Timeframe
from marketdata.core.errors import Forbidden, InvalidInput, NotFound
from marketdata.core.options import OptionContract
from marketdata.core.providers.synthetic_chains import SyntheticChainConfig
from marketdata.selectors import stored_bars_get
from monitoring.services import breakers_alert, metrics_after_fills
from quantsite.audit import audit
from quantsite.events import event_bus
from risk.core.manager import Decision, PolicyRiskManager
from risk.core.state import TradingState
from risk.services import flatten_done, risk_policy_get, trading_state_get, trading_states_get
from strategies.choices import StrategyStage
from strategies.core.config import StrategyConfig
from strategies.core.option_chain import ChainSnapshot
from strategies.core.option_strategies import OptionStrategy
from strategies.core.options import OptionExposure, OptionFill, OptionLeg, OptionOrder
from strategies.core.registry import strategy_build
from strategies.core.types import Fill, OrderStatus, PriceBar, Side
from strategies.core.types import Order as CoreOrder
from strategies.lifecycle_services import ADVANCES, strategy_version_advance
from strategies.models import StrategyVersion

log = structlog.get_logger(__name__)

STAGES = {
    TradingMode.PAPER: {
        StrategyStage.PAPER_APPROVED,
        StrategyStage.PAPER,
        StrategyStage.LIVE_APPROVED,
        StrategyStage.LIVE,
    },
    TradingMode.LIVE: {StrategyStage.LIVE_APPROVED, StrategyStage.LIVE},
}
FLATTEN = "kill switch: flatten"
CHAIN_HISTORY_DAYS = SyntheticChainConfig().history_days
STARTED = {TradingMode.PAPER: StrategyStage.PAPER, TradingMode.LIVE: StrategyStage.LIVE}


def trading_check(*, version: StrategyVersion, mode: str, broker: str) -> None:
    """Everything that must hold before version trades in mode through broker; one Forbidden that
    lists whatever does not."""
    missing = []
    if version.stage not in STAGES[mode]:
        allowed = " or ".join(sorted(STAGES[mode]))
        missing.append(f"the version is {version.stage}, not {allowed}")
    if not version.enabled:
        missing.append("the version is disabled")
    if trading_state_get(version=version) == TradingState.HALTED:
        missing.append("trading is HALTED (the kill switch); leaving it needs an approved reset")
    if mode == TradingMode.LIVE:
        if not settings.LIVE_TRADING_ENABLED:
            missing.append("LIVE_TRADING_ENABLED is false")
        if broker == BrokerName.SIMULATED:
            missing.append("live trading needs a real broker (alpaca or ib), not the simulated one")
    if missing:
        raise Forbidden(f"{mode} trading of {version.name} v{version.version} refused: " + "; ".join(missing))


class OmsPortfolio(OptionBook):
    """A strategy version's account as the OMS keeps it (its cash and the positions its fills made),
    marked at the latest bars and chains: what the strategy and the risk manager see when the broker
    is a real one (whose account may hold other strategies' positions too). Positions of OCC symbols
    are its options (stored per contract in money, held here per share as a book holds them), marked
    at their cost until a chain of their underlying marks them (mark_chain). read() loads it again.

    The greeks of its options come from the latest chain of each underlying; an option held that no
    chain prices leaves them unknown: option_exposure says so (NotFound) rather than count it as
    nothing."""

    def __init__(self, version: StrategyVersion, mode: str) -> None:
        super().__init__(0.0)
        self.version, self.mode = version, mode
        self.read()

    def read(self) -> None:
        account = TradingAccount.objects.get(strategy_version=self.version, mode=self.mode)
        self._cash = float(account.cash)
        rows = Position.objects.filter(strategy_version=self.version, mode=self.mode).exclude(qty=0)
        shares, options = {}, {}
        for row in rows:
            try:
                options[row.symbol] = (OptionContract.parse(row.symbol), row)
            except InvalidInput:
                shares[row.symbol] = CorePosition(row.symbol, float(row.qty), float(row.avg_price))
        multipliers = dict(
            OrderLeg.objects.filter(
                order__strategy_version=self.version, order__mode=self.mode, symbol__in=list(options)
            ).values_list("symbol", "order__multiplier")
        )
        self.positions = shares
        self.option_positions = {}
        for symbol, (terms, row) in options.items():
            contract = replace(terms, multiplier=multipliers.get(symbol, terms.multiplier))
            self.contracts[symbol] = contract
            cost = float(row.avg_price) / contract.multiplier
            self.option_positions[symbol] = CorePosition(symbol, float(row.qty), cost)
            self.option_marks.setdefault(symbol, cost)
            if (chain := self.chains.get(contract.underlying)) is not None and symbol in chain:
                self._mark_contract(symbol, chain)
        for symbol in set(self.option_marks) - set(options):
            del self.option_marks[symbol]

    def option_exposure(self) -> OptionExposure:
        unknown = [
            symbol
            for symbol, contract in self.contracts.items()
            if symbol in self.option_positions
            and not _greeks_known(symbol, self.chains.get(contract.underlying))
        ]
        if unknown:
            raise NotFound(
                f"no chain gives the greeks of {', '.join(sorted(unknown))}, held by {self.version}"
            )
        return super().option_exposure()


def _greeks_known(symbol: str, chain: ChainSnapshot | None) -> bool:
    if chain is None or symbol not in chain:
        return False
    quote = chain.quote(symbol)
    return bool(np.isfinite(quote.delta) and np.isfinite(quote.vega))


class TradingSession:
    """One strategy version trading in one mode. history: each symbol's bars before the session;
    costs: the paper broker's commission, slippage and fill timing (a backtest's config)."""

    def __init__(
        self,
        *,
        version: StrategyVersion,
        mode: str,
        broker: str,
        capital: Decimal,
        history: Mapping[str, pd.DataFrame],
        costs: BacktestConfig | None = None,
        client: BrokerClient | None = None,
        actor=None,
    ) -> None:
        trading_check(version=version, mode=mode, broker=broker)
        self.version, self.mode, self.broker, self.actor = version, mode, broker, actor
        costs = costs or BacktestConfig()
        client = client or broker_client_build(broker=broker, mode=mode, capital=float(capital), costs=costs)
        if not isinstance(client, SimulatedBrokerClient):
            checked = reconcile(broker=broker, mode=mode, client=client)
            if not checked.clean:
                raise Forbidden(
                    f"{mode} trading of {version} refused: reconciliation with {broker} failed "
                    f"({checked.failure or '; '.join(checked.mismatches)}); its strategies are halted"
                )
        self.client = client
        account_open(version=version, mode=mode, broker=broker, capital=capital)
        self.strategy = strategy_build(StrategyConfig.model_validate(version.config))
        self.risk = PolicyRiskManager(risk_policy_get(version=version), strategy=str(version))
        self.ledger = TradeLedger()
        self._ledgered_executions: set[str] = set()  # a stream may report an execution again
        self._lock = threading.RLock()  # a real broker's stream delivers fills from its own thread
        self._later: Later | None = None  # during a bar: the broker's answers, stored at its end
        self._snapshot_asked_until = 0.0  # monotonic: until then a snapshot after fills is asked for already
        self._stop_stream = client.stream_updates(self._on_update)
        commission, slippage = costs_of(costs)
        if isinstance(client, SimulatedBrokerClient):
            # The paper broker's own account: the backtest's, float for float.
            self.portfolio = client.portfolio
            hooks = {
                "on_bar_open": client.bar_open,
                "on_bar_close": client.bar_close,
                "on_session_end": client.session_end,
            }
        else:
            self.portfolio = OmsPortfolio(version, mode)
            hooks = {"on_bar_open": self._marked}
        portfolio = self.portfolio
        self.options = isinstance(self.strategy, OptionStrategy)
        if self.options:
            self.runner = OptionRunner(
                self.strategy,
                risk_manager=self.risk,
                portfolio=portfolio,
                send=self._send_any,
                refused=self._refused,
            )
            self._bars = history.get(self.strategy.underlying, pd.DataFrame(columns=list(BAR_COLUMNS)))
            self._option_orders: dict[str, tuple[OptionOrder, OptionOrderRequest]] = {}  # working
            self._option_filled: dict[str, OptionFill] = {}  # each order's fills so far, as reported
            self._settled = 0  # the paper book's settlements recorded
            self._share_orders: dict[str, CoreOrder] = {}  # the strategy's, by client order id
        else:
            self._start_runner(history, slippage, commission, hooks)
        audit(
            actor=actor,
            action="session.start",
            subject=version,
            summary=f"{version} trading {mode} on {broker}",
        )

    def _start_runner(self, history, slippage, commission, hooks) -> None:
        portfolio = self.portfolio
        self.runner = StrategyRunner(
            self.strategy,
            risk_manager=self.risk,
            portfolio=portfolio,
            history=history,
            quote=lambda symbol, order: slippage.fill_price(portfolio.price(symbol), order.side.sign),
            buying_power=portfolio.buying_power,
            commission=commission,
            send=self._send,
            refused=self._refused,
            **hooks,
        )

    def on_bars(self, bars: Mapping[str, PriceBar]) -> StepReport:
        with self._lock:
            self._later = Later()
            breakers = self.risk.breaker_state
            try:
                report = self._step(bars)
            finally:
                later, self._later = self._later, None
                orders_progress(items=later.progress, audits=later.audits)
            self._monitored(breakers, later)
            return report

    def _monitored(self, breakers: TradingState, later: Later) -> None:
        """Monitoring after a bar: an alert when the session's own circuit breakers tripped (the
        drawdown kill switch, the daily loss limit), a metric snapshot when the bar had fills (not asked
        again while the one this session asked for keeps others from asking)."""
        breakers_alert(
            version=self.version,
            mode=self.mode,
            before=breakers,
            after=self.risk.breaker_state,
            reason=self.risk.halted_reason or "",
        )
        filled = any(p.execution is not None and p.execution.fill_qty for p in later.progress)
        if filled and time.monotonic() >= self._snapshot_asked_until and metrics_after_fills(mode=self.mode):
            self._snapshot_asked_until = time.monotonic() + settings.METRICS_AFTER_FILLS_SECONDS

    def _step(self, bars: Mapping[str, PriceBar]) -> StepReport:
        states = trading_states_get(version=self.version)
        self.risk.set_external_state(states.platform, states.version)
        if states.effective == TradingState.HALTED and isinstance(self.client, SimulatedBrokerClient):
            for order in self.client.broker.cancel_all():
                log.info("kill switch: paper order dropped", client_order_id=order.id)
        if isinstance(self.portfolio, OmsPortfolio):
            self.portfolio.read()  # the fills the stream applied since the last bar
        report = self._option_step(bars) if self.options else self.runner.on_bars(bars)
        if states.flatten_requested:
            self._flatten(report.ts)
        self._close_requested(report.ts)
        if isinstance(self.client, SimulatedBrokerClient):
            self._manual_orders()
        if ADVANCES.get(self.version.stage) == STARTED[self.mode]:
            strategy_version_advance(version=self.version, to=STARTED[self.mode], actor=self.actor)
        return report

    def _flatten(self, ts: datetime) -> None:
        """The kill switch asked for the positions to be closed: reduce-only market orders of every
        contract and share held, sent past the (halted) strategy and risk manager (a limit on order
        size or rate must not keep a position open), each in the audit trail."""
        orders: list[CoreOrder | OptionOrder] = self._option_closes() if self.options else []
        symbols = [self.strategy.underlying] if self.options else self.strategy.symbols
        # After the options: shares that cover a call held are sold once the call is bought back.
        for symbol in symbols:
            if qty := self.portfolio.position(symbol):
                side = Side.SELL if qty > 0 else Side.BUY
                orders.append(CoreOrder(symbol, side, qty=abs(qty), reduce_only=True, reason=FLATTEN))
        for order in orders:
            if isinstance(order, OptionOrder):
                self._place_option(order, f"flatten {order.legs[0].symbol} {ts.isoformat()}")
            else:
                self._send(order, f"flatten {order.symbol} {ts.isoformat()}")
        flatten_done(version=self.version, orders=len(orders), by=self.actor)

    def _option_closes(self) -> list[OptionOrder]:
        """The contracts held, each closed by its own order (one leg): a leg nobody quotes then
        refuses only its own close, and the others go. Short legs are bought back first, so that no
        step leaves a sold call or put without the long leg or shares that cover it (the broker
        refuses such a step); orders of up to four legs per expiry would need the legs held in
        ratios of whole units, which the contracts left after partial closes and expiries need not
        be."""
        held = [
            (symbol, position.qty)
            for symbol, position in sorted(self.portfolio.option_positions.items())
            if position.qty
        ]
        held.sort(key=lambda item: item[1] > 0)  # shorts (bought back) before longs (sold)
        return [
            OptionOrder(
                (OptionLeg(self.portfolio.contracts[symbol], Side.BUY if qty < 0 else Side.SELL),),
                int(abs(qty)),
                reduce_only=True,
                reason=FLATTEN,
            )
            for symbol, qty in held
        ]

    def _close_requested(self, ts: datetime) -> None:
        """People asked to close positions (position_close): the symbol's working orders cancelled, then
        a reduce-only market order for what the session holds, checked by its risk manager, once."""
        for position in position_closes_take(version=self.version, mode=self.mode):
            working_orders_cancel(client=self.client, symbol=position.symbol)
            held = self.portfolio.position(position.symbol)
            if not held:
                position_close_done(position=position, by=position.close_requested_by, refused="nothing held")
                continue
            order = closing_order(symbol=position.symbol, qty=held)
            decision = self.risk.check_order(order, self.portfolio)
            if decision.approved:
                self._send(order, f"close {position.symbol} {ts.isoformat()}")
            refused = "" if decision.approved else refusal_text(decision)
            position_close_done(position=position, by=position.close_requested_by, refused=refused)

    def _manual_orders(self) -> None:
        """Orders placed by hand for this session's paper broker (manual_order_place): each checked by
        the session's risk manager, then sent, or cancelled with the manager's reasons."""
        for stored in manual_orders_take(version=self.version, mode=self.mode):
            order = core_order_of(spec_of(stored))
            if isinstance(order, OptionOrder):
                option_order_priced(order, self.portfolio.chains.get(order.underlying))
            decision = self.risk.check_order(order, self.portfolio)
            if decision.approved:
                order_submit(order=stored, client=self.client, actor=self.actor, later=self._later)
            else:
                self._refused(order, decision)
                order_cancel(order=stored, client=None, actor=self.actor, reason=refusal_text(decision))

    def _option_step(self, bars: Mapping[str, PriceBar]) -> StepReport:
        """A bar of an options strategy's session: with a new daily bar of its underlying, the
        session's chain (chain_latest_get over the bars so far) goes to the broker (the paper broker
        settles expiries, marks its book and meets working limits with it; a real broker's account is
        marked at it), the strategy hears of its orders' fills, the risk manager steps, and the
        strategy decides on the chain (OptionRunner: checked, then sent through the OMS)."""
        underlying = self.strategy.underlying
        bar = bars.get(underlying)
        ts = next(iter(bars.values())).ts
        if bar is None:
            return StepReport(ts)
        row = pd.DataFrame([[getattr(bar, c) for c in BAR_COLUMNS]], columns=list(BAR_COLUMNS))
        bars = pd.concat([self._bars, row.set_index(pd.DatetimeIndex([pd.Timestamp(bar.ts)]))])
        # A chain is priced from the bars of history_days before it: older ones need not be kept.
        self._bars = bars[bars.index >= pd.Timestamp(bar.ts) - timedelta(days=CHAIN_HISTORY_DAYS)]
        paper = isinstance(self.client, SimulatedBrokerClient)
        if paper:
            self.client.bar_open(bar)
        chain = chain_latest_get(underlying=underlying, bars=self._bars)
        if chain is None:
            log.info("no option chain for this bar", underlying=underlying, ts=ts.isoformat())
            return StepReport(ts)
        if paper:
            self.client.chain_update(chain)
            settled, self._settled = (
                self.portfolio.settlements[self._settled :],
                len(self.portfolio.settlements),
            )
            option_settlements_record(
                version=self.version,
                mode=self.mode,
                settlements=settled,
                multipliers={s.symbol: self.portfolio.contracts[s.symbol].multiplier for s in settled},
            )
            for settlement in settled:  # an exercise or assignment: shares at the strike
                if settlement.fill is not None:
                    self._recorded(settlement.fill)
        else:
            self.portfolio.mark_chain(chain)
        self._option_progress()
        self.risk.on_step(ts, self.portfolio.equity, new_session=True)
        report = self.runner.on_chain(chain)
        self._option_progress()
        if paper:
            self.client.bar_close(bar)
        return report

    def _send_any(self, order: CoreOrder | OptionOrder, signal: str) -> None:
        """An approved order of an options strategy: an option order through the OMS, followed until
        it ends; shares as any order."""
        if not isinstance(order, OptionOrder):
            # Known by its id before it is sent: the paper broker fills it before order_place returns.
            self._share_orders[order_client_id(version=self.version, signal=signal)] = order
            self._send(order, signal)
            return
        stored, request = self._place_option(order, signal)
        if OrderStatus(stored.status).terminal:  # refused by the broker
            order.status = OrderStatus(stored.status)
            return
        self._option_orders[stored.client_order_id] = (order, request)

    def _place_option(self, order: OptionOrder, signal: str) -> tuple[Order, OptionOrderRequest]:
        """An approved option order stored and sent through the OMS; the stored order and its
        request as sent."""
        spec = OptionOrderSpec(
            legs=tuple(LegRequest(leg.symbol, leg.side, leg.ratio) for leg in order.legs),
            qty=Decimal(order.qty),
            order_type=order.order_type,
            limit_price=None if order.limit_price is None else decimal_of(order.limit_price),
            tif=order.tif,
            reduce_only=order.reduce_only,
            multiplier=order.multiplier,
            reason=order.reason,
        )
        stored = self._place(spec, signal)
        return stored, spec.request(stored.client_order_id)

    def _option_progress(self) -> None:
        """The strategy's working option orders as their broker reports them: what filled since the
        last report goes to the strategy (on_option_fill), and each takes the broker's status."""
        for cid, (order, request) in list(self._option_orders.items()):
            report = self.client.get_order(cid)
            if report is None:
                continue  # not known to the broker yet: reconciliation settles it
            filled = self.client.get_option_fill(request)
            if filled is not None:
                fill = fill_since(filled, self._option_filled.get(cid), order.id)
                if fill is not None:
                    self._option_filled[cid] = filled
                    order.filled_qty, order.avg_fill_price = filled.qty, filled.net_price
                    self.strategy.on_option_fill(fill)
            order.status = report.status
            if order.status.terminal:
                del self._option_orders[cid]
                self._option_filled.pop(cid, None)

    def _marked(self, bar: PriceBar) -> None:
        self.portfolio.mark(bar.symbol, bar.close)

    def stop(self) -> None:
        self._stop_stream()
        audit(
            actor=self.actor, action="session.stop", subject=self.version, summary=f"{self.version} stopped"
        )

    # --- the OMS side -------------------------------------------------------------------------------

    def _send(self, order: CoreOrder, signal: str) -> None:
        spec = OrderSpec(
            symbol=order.symbol,
            side=order.side,
            qty=decimal_of(order.qty),
            order_type=order.order_type,
            limit_price=None if order.limit_price is None else decimal_of(order.limit_price),
            stop_price=None if order.stop_price is None else decimal_of(order.stop_price),
            tif=order.tif,
            reason=order.reason,
        )
        self._place(spec, signal)

    def _place(self, spec: OrderSpec | OptionOrderSpec, signal: str) -> Order:
        """Store the order and send it through the OMS."""
        return order_place(
            version=self.version,
            mode=self.mode,
            broker=self.broker,
            spec=spec,
            signal=signal,
            client=self.client,
            actor=self.actor,
            later=self._later,
        )

    def _refused(self, order: CoreOrder | OptionOrder, decision: Decision) -> None:
        audit(
            actor=self.actor,
            action="order.refused",
            subject=self.version,
            summary=f"{core_order_text(order)}: " + "; ".join(r.message for r in decision.reasons),
            codes=[str(r.code) for r in decision.reasons],
        )

    def _on_update(self, update: TradeUpdate) -> None:
        """A trade update from the broker's stream. During a bar (the paper broker answers at once,
        on the session's thread) it waits for the bar's end to be stored; from a real broker's
        stream it is stored at once, and counts for this session when its order is this version's."""
        with self._lock:
            if self._later is not None:
                self._later.progress.append(Progress.of(update))
                self._ledgered(update)
            else:
                self._applied(update)

    def _applied(self, update: TradeUpdate) -> None:
        order = orders_progress(items=[Progress.of(update)]).get(update.order.client_order_id)
        if order is not None and order.strategy_version_id == self.version.pk:
            self._ledgered(update)

    def _ledgered(self, update: TradeUpdate) -> None:
        """A fill of shares into the session's ledger of round trips (_recorded). An option order's
        fills are not round trips of shares: the OMS records them per leg. An options strategy's own
        share order takes the broker's status and fills, as the backtest's broker sets them."""
        cid = update.order.client_order_id
        if self.options and (order := self._share_orders.get(cid)) is not None:
            order.status = update.order.status
            order.filled_qty = float(update.order.filled_qty)
            order.avg_fill_price = float(update.order.avg_fill_price or 0)
            if order.status.terminal:
                del self._share_orders[cid]
        else:
            order = None
        if not update.fill_qty or update.order.legs or update.execution_id in self._ledgered_executions:
            return
        self._ledgered_executions.add(update.execution_id)
        self._recorded(
            Fill(
                cid if order is None else order.id,
                update.order.symbol,
                update.order.side,
                float(update.fill_qty),
                float(update.fill_price),
                float(update.commission or 0),
                update.ts,
                -1,
            )
        )

    def _recorded(self, fill: Fill) -> None:
        """A fill of shares into the ledger: the risk manager hears of the round trips it closes (the
        cooldown, the stop-loss guard), and an options strategy of the fill itself (on_fill, as in
        the backtest: its own orders' under their ids, the others' under their client order ids)."""
        closed = len(self.ledger.trades)
        self.ledger.record(fill)
        for trade in self.ledger.trades[closed:]:
            self.risk.on_trade_closed(trade.symbol, trade.pnl, fill.ts)
        if self.options:
            self.strategy.on_fill(fill)


def replay_bars(frames: Mapping[str, pd.DataFrame], start: datetime | None) -> tuple[dict, list[dict]]:
    """A replay file's bars split into the history before start and the steps from it (each step
    the bars of every symbol at one time)."""
    history = {s: f.loc[f.index < start] if start is not None else f.iloc[:0] for s, f in frames.items()}
    timeline = sorted({ts for f in frames.values() for ts in f.index if start is None or ts >= start})
    steps = []
    for ts in timeline:
        step = {}
        for symbol, frame in frames.items():
            if ts in frame.index:
                row = frame.loc[ts]
                values = (float(row[c]) for c in BAR_COLUMNS)
                step[symbol] = PriceBar(symbol, ts.to_pydatetime(), *values, -1)
        steps.append(step)
    return history, steps


def stored_steps_after(*, symbols: list[str], timeframe: Timeframe, after: datetime | None) -> list[dict]:
    """The stored bars of symbols after a time, as steps (each step the bars at one time)."""
    frames = stored_bars_get(symbols=symbols, timeframe=timeframe, start=None, end=None)
    cut = {s: f.loc[f.index > after] if after is not None else f for s, f in frames.items()}
    return replay_bars(cut, None)[1]


def trading_session_live(
    *,
    session: TradingSession,
    timeframe: Timeframe,
    after: datetime | None,
    stop: Callable[[], bool],
    wait_seconds: float = 1.0,
) -> int:
    """Trade each new stored bar as its ingestion is announced on the event bus ("bars.ingested"),
    until stop() says so; the steps traded. Bars of every symbol of the strategy's universe after
    `after` (the last one traded) are read from the database at each announcement."""
    symbols = list(session.strategy.config.universe)
    announced: queue.Queue = queue.Queue()
    unsubscribe = event_bus().subscribe("bars.ingested", lambda channel, payload: announced.put(payload))
    steps = 0
    try:
        while not stop():
            try:
                payload = announced.get(timeout=wait_seconds)
            except queue.Empty:
                continue
            if not set(payload.get("symbols", [])) & set(symbols) or payload.get("timeframe") != timeframe:
                continue
            for step in stored_steps_after(symbols=symbols, timeframe=timeframe, after=after):
                session.on_bars(step)
                after = next(iter(step.values())).ts
                steps += 1
    finally:
        unsubscribe()
    return steps
