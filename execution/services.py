"""Writes of execution: orders stored before they are sent, sent once, and their progress (status,
fills) applied to positions and cash.

A fill is recorded from an execution the broker reports (its stream: execution id, quantity, price,
commission), once per execution id. A status report alone (the answer to a placement, a lookup)
moves the order's status; the quantity it says is filled beyond the recorded executions becomes a
fill only when reconciliation asks for it (derive=True): then its money is the broker's cumulative
average times its filled quantity, less what is recorded, and its id says it was derived.

An option order's fills are read from its legs' cumulative figures in every report (the broker
fills the legs together; each report carries them all): for each leg, the contracts beyond those
recorded, at the money its cumulative average says, less what is recorded, x the multiplier. So a
placement answer, a stream update and a lookup of the same fill record it once.
"""

from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from execution.choices import AssetClass
from execution.core.brokers.base import (
    BrokerClient,
    BrokerOrder,
    LegRequest,
    OptionOrderRequest,
    OrderRejected,
    OrderRequest,
    TradeUpdate,
)
from execution.core.brokers.simulated import decimal_of
from execution.core.oms import client_order_id, order_send, report_stale, transition_check
from execution.core.option_book import Settlement
from execution.core.portfolio import Position as CorePosition
from execution.models import Fill, Order, OrderLeg, Position, TradingAccount
from marketdata.core.errors import ApplicationError, Conflict, InvalidInput
from quantsite.audit import audit, audit_record
from quantsite.db import rows_update
from quantsite.models import AuditRecord
from strategies.core.types import OrderStatus, OrderType, Side, TimeInForce
from strategies.models import StrategyVersion

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class OrderSpec:
    """An order a strategy wants, before it has an identity."""

    symbol: str
    side: Side
    qty: Decimal
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    tif: TimeInForce = TimeInForce.DAY
    reason: str = ""


@dataclass(frozen=True)
class OptionOrderSpec:
    """An option order a strategy or a person wants, before it has an identity: qty units of its
    legs, limit_price the net per unit per share (debit positive, credit negative)."""

    legs: tuple[LegRequest, ...]
    qty: Decimal
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    tif: TimeInForce = TimeInForce.DAY
    reduce_only: bool = False
    multiplier: int = 100
    reason: str = ""

    def request(self, identifier: str) -> OptionOrderRequest:
        return OptionOrderRequest(
            identifier, self.legs, self.qty, self.order_type, self.limit_price, self.tif, self.reduce_only
        )


Spec = OrderSpec | OptionOrderSpec


def order_create(
    *,
    version: StrategyVersion,
    mode: str,
    broker: str,
    spec: Spec,
    signal: str,
    attempt: int = 1,
    actor=None,
) -> Order:
    """Store the order (NEW) under its client_order_id, derived from (version, signal, attempt).
    The same signal and attempt again returns the stored order: never a second one."""
    return _order_store(version, mode, broker, spec, signal, attempt, actor, OrderStatus.NEW, None)[0]


@dataclass(frozen=True)
class Progress:
    """What a broker reports of one order: its state, and the execution it reports, if any."""

    report: BrokerOrder
    ts: datetime
    execution: TradeUpdate | None = None

    @classmethod
    def of(cls, update: TradeUpdate) -> "Progress":
        return cls(update.order, update.ts, update)


@dataclass
class Later:
    """What brokers answered and the audit records of sending, held back to be stored together
    (a trading session's bar, at its end: orders_progress)."""

    progress: list[Progress] = field(default_factory=list)
    audits: list[AuditRecord] = field(default_factory=list)


def order_client_id(*, version: StrategyVersion, signal: str, attempt: int = 1) -> str:
    """The client order id of version's order for signal (its attempt), fixed before it is stored."""
    return client_order_id(f"{version.name}-v{version.version}", signal, attempt)


def order_place(
    *,
    version: StrategyVersion,
    mode: str,
    broker: str,
    spec: Spec,
    signal: str,
    client: BrokerClient,
    attempt: int = 1,
    actor=None,
    later: Later | None = None,
) -> Order:
    """order_create then order_submit with one transaction fewer: the order is stored SUBMITTED
    (as order_submit stores it before sending it), then sent. The same signal and attempt again:
    the stored order, sent only if it never was. With `later`, its audit records wait there too
    (the order row itself is stored before it is sent, always)."""
    order, created = _order_store(
        version, mode, broker, spec, signal, attempt, actor, OrderStatus.SUBMITTED, later
    )
    if not created:
        return order_submit(order=order, client=client, actor=actor, later=later)
    return _order_send(order, client, actor, later)


def order_submit(*, order: Order, client: BrokerClient, actor=None, later: Later | None = None) -> Order:
    """Send a NEW order (SUBMITTED is stored first). A refusal makes it REJECTED; an outcome still
    unknown after the lookup leaves it SUBMITTED with the reason, for reconciliation to settle.
    The broker's answer is applied at once, or held in `later`."""
    if order.status != OrderStatus.NEW:
        return order  # already sent: never twice
    _move(order, OrderStatus.SUBMITTED)
    order.submitted_at = timezone.now()
    order.save(update_fields=["status", "submitted_at", "updated_at"])
    return _order_send(order, client, actor, later)


def orders_progress(
    *, items: list[Progress], derive: bool = False, audits: list[AuditRecord] = ()
) -> dict[str, Order]:
    """Apply, in their order and in one transaction, what brokers report of orders: each status
    (a stale one, telling of an earlier state, is passed over); each execution (once per execution
    id, never past the order's quantity) with its position and cash; with derive, a fill for any
    quantity a broker says is filled beyond the recorded fills. The orders reported on, by
    client_order_id (a report of an order this platform does not know is logged and passed over).

    A report that cannot be applied (a fill past the order's quantity, a state the order cannot
    reach) is passed over too, after the others are stored: InvalidInput or Conflict then names
    every one (reconciliation settles what it leaves). audits: records written with them."""
    ids = {p.report.client_order_id for p in items}
    problems: list[ApplicationError] = []
    with transaction.atomic():
        orders = {
            o.client_order_id: o for o in Order.objects.select_for_update().filter(client_order_id__in=ids)
        }
        for unknown in sorted(ids - orders.keys()):
            log.warning("a report of an unknown order", client_order_id=unknown)
        filling = {
            p.report.client_order_id for p in items if p.execution is not None or derive or p.report.legs
        } & orders.keys()
        ledger = _Ledger([orders[i] for i in filling])
        ledger.audits.extend(audits)
        before = {i: _progress_of(o) for i, o in orders.items()}
        for p in items:
            order = orders.get(p.report.client_order_id)
            if order is None:
                continue
            try:
                _report_apply(order, p, derive, ledger)
            except (InvalidInput, Conflict) as exc:
                log.error(
                    "a broker report was not applied",
                    client_order_id=order.client_order_id,
                    error=exc.message,
                )
                problems.append(exc)
        now = timezone.now()
        moved = [o for i, o in orders.items() if _progress_of(o) != before[i]]
        for order in moved:  # rows_update sets no auto_now field
            order.updated_at = now
        fields = ["status", "filled_qty", "avg_fill_price", "broker_status", "broker_order_id", "updated_at"]
        rows_update(moved, fields)
        ledger.save(now)
    if problems:
        raise type(problems[0])("; ".join(p.message for p in problems))
    return orders


def order_cancel(*, order: Order, client: BrokerClient | None, actor=None, reason: str) -> Order:
    """Ask the broker to cancel a working order, then read back what it says. Without a client (an
    order never sent, or one of the simulated paper broker, which lives in its session) it is
    cancelled here."""
    if OrderStatus(order.status).terminal:
        return order
    if order.status == OrderStatus.NEW or client is None:
        _move(order, OrderStatus.CANCELED)
        order.status_reason = reason
        order.save(update_fields=["status", "status_reason", "updated_at"])
    else:
        client.cancel_order(order.client_order_id)
        report = client.get_order(order.client_order_id)
        if report is not None:
            answer = Progress(report, report.updated_at or timezone.now())
            order = orders_progress(items=[answer]).get(order.client_order_id, order)
    audit(actor=actor, action="order.cancel", subject=order, summary=f"{order}: {reason}")
    return order


def option_settlements_record(
    *, version: StrategyVersion, mode: str, settlements: list[Settlement], multipliers: dict[str, int]
) -> None:
    """Contracts settled at expiry by the paper broker's book, into the positions and cash the OMS
    keeps, in one transaction: each position of a contract closed at its settlement value (intrinsic
    in cash, 0 when worthless or settled in shares), and an exercise's or assignment's shares bought
    or sold at the strike. Each is in the audit trail."""
    if not settlements:
        return
    with transaction.atomic():
        account = TradingAccount.objects.select_for_update().get(strategy_version=version, mode=mode)
        records = []
        for settled in settlements:
            moves = [
                (
                    settled.symbol,
                    Decimal(-settled.contracts),
                    decimal_of(settled.price) * multipliers[settled.symbol],
                )
            ]
            if settled.fill is not None:
                signed = settled.fill.qty if settled.fill.side is Side.BUY else -settled.fill.qty
                moves.append((settled.fill.symbol, decimal_of(signed), decimal_of(settled.fill.price)))
            for symbol, qty, price in moves:
                position, _ = Position.objects.select_for_update().get_or_create(
                    strategy_version=version, mode=mode, symbol=symbol
                )
                held = CorePosition(position.symbol, position.qty, position.avg_price, position.realized_pnl)
                held.apply(qty, price)
                position.qty, position.avg_price, position.realized_pnl = (
                    held.qty,
                    held.avg_price,
                    held.realized_pnl,
                )
                position.save(update_fields=["qty", "avg_price", "realized_pnl", "updated_at"])
                account.cash -= qty * price
            records.append(
                audit_record(
                    actor=None,
                    action="option.settled",
                    subject=version,
                    summary=f"{settled.symbol}: {settled.contracts} {settled.reason} at {settled.price}",
                )
            )
        account.save(update_fields=["cash", "updated_at"])
        AuditRecord.objects.bulk_create(records)


def account_open(*, version: StrategyVersion, mode: str, broker: str, capital: Decimal) -> TradingAccount:
    account, _ = TradingAccount.objects.get_or_create(
        strategy_version=version,
        mode=mode,
        defaults={"broker": broker, "initial_capital": capital, "cash": capital},
    )
    return account


# --- sending and applying ------------------------------------------------------------------------


def _order_store(
    version: StrategyVersion,
    mode: str,
    broker: str,
    spec: Spec,
    signal: str,
    attempt: int,
    actor,
    status: OrderStatus,
    later: Later | None,
) -> tuple[Order, bool]:
    """The order stored (NEW, or SUBMITTED when it is sent next) with its legs and its audit record,
    in one transaction; with later, outside a transaction, an order without legs alone (one
    statement, committed on its own) and the record held there. Or the one stored already under its
    client_order_id. Whether it is new."""
    identifier = order_client_id(version=version, signal=signal, attempt=attempt)
    common = {
        "client_order_id": identifier,
        "strategy_version": version,
        "mode": mode,
        "broker": broker,
        "qty": spec.qty,
        "order_type": spec.order_type,
        "limit_price": spec.limit_price,
        "tif": spec.tif,
        "signal": signal,
        "attempt": attempt,
        "reason": spec.reason,
        "status": status,
        "submitted_at": timezone.now() if status == OrderStatus.SUBMITTED else None,
    }
    legs: list[OrderLeg] = []
    if isinstance(spec, OptionOrderSpec):
        request = spec.request(identifier)
        order = Order(
            **common,
            asset_class=AssetClass.OPTION,
            symbol=request.underlying,
            multiplier=spec.multiplier,
            reduce_only=spec.reduce_only,
        )
        legs = [
            OrderLeg(order=order, index=i, symbol=leg.symbol, side=leg.side, ratio=leg.ratio)
            for i, leg in enumerate(spec.legs)
        ]
    else:
        OrderRequest(
            identifier, spec.symbol, spec.side, spec.qty, spec.order_type, spec.limit_price, spec.stop_price
        )
        order = Order(**common, symbol=spec.symbol, side=spec.side, stop_price=spec.stop_price)
    try:
        alone = later is not None and transaction.get_autocommit() and not legs
        with nullcontext() if alone else transaction.atomic():
            order.save(force_insert=True)
            OrderLeg.objects.bulk_create(legs)
            record = audit_record(
                actor=actor, action="order.create", subject=order, summary=str(order), signal=signal
            )
            if later is None:
                record.save()
            else:
                later.audits.append(record)
    except IntegrityError:  # stored already (its client_order_id is unique)
        return Order.objects.get(client_order_id=identifier), False
    return order, True


def order_request_of(order: Order) -> OrderRequest | OptionOrderRequest:
    """A stored order as a broker takes it."""
    if order.asset_class == AssetClass.OPTION:
        legs = tuple(LegRequest(leg.symbol, Side(leg.side), leg.ratio) for leg in order.legs.all())
        return OptionOrderRequest(
            order.client_order_id,
            legs,
            order.qty,
            OrderType(order.order_type),
            order.limit_price,
            TimeInForce(order.tif),
            order.reduce_only,
        )
    return OrderRequest(
        order.client_order_id,
        order.symbol,
        Side(order.side),
        order.qty,
        OrderType(order.order_type),
        order.limit_price,
        order.stop_price,
        TimeInForce(order.tif),
    )


def _order_send(order: Order, client: BrokerClient, actor, later: Later | None) -> Order:
    """Send a SUBMITTED order, once (order_send); apply the broker's answer, or hold it in later."""
    request = order_request_of(order)
    try:
        sent = order_send(client, request)
    except OrderRejected as exc:
        _move(order, OrderStatus.REJECTED)
        order.status_reason = exc.message
        order.save(update_fields=["status", "status_reason", "updated_at"])
        audit(actor=actor, action="order.rejected", subject=order, summary=f"{order}: {exc.message}")
        return order
    if sent.order is None:
        order.status_reason = f"outcome unknown: {sent.unknown_reason}"
        order.save(update_fields=["status_reason", "updated_at"])
        audit(actor=actor, action="order.unknown", subject=order, summary=f"{order}: {order.status_reason}")
        return order
    record = audit_record(
        actor=actor,
        action="order.submit",
        subject=order,
        summary=str(order),
        resubmitted=sent.resubmitted,
        broker_order_id=sent.order.broker_order_id,
    )
    answer = Progress(sent.order, sent.order.updated_at or timezone.now())
    if later is not None:
        later.progress.append(answer)
        later.audits.append(record)
        return order
    return orders_progress(items=[answer], audits=[record]).get(order.client_order_id, order)


def _move(order: Order, status: OrderStatus) -> bool:
    moved = transition_check(OrderStatus(order.status), OrderStatus(status))
    if moved:
        order.status = status
    return moved


def _progress_of(order: Order) -> tuple:
    return (order.status, order.filled_qty, order.broker_status, order.broker_order_id)


def _report_apply(order: Order, progress: Progress, derive: bool, ledger: "_Ledger") -> None:
    report, execution = progress.report, progress.execution
    if order.asset_class == AssetClass.OPTION:
        commission = execution.commission if execution is not None else None
        ledger.legs_fill(order, report, commission or Decimal(0), progress.ts)
    elif execution is not None and execution.fill_qty and execution.execution_id:
        if not ledger.executed(order, execution.execution_id):
            notional = execution.fill_qty * execution.fill_price
            ledger.fill(
                order,
                execution.execution_id,
                execution.fill_qty,
                notional,
                execution.commission or Decimal(0),
                progress.ts,
            )
    elif derive and report.filled_qty > order.filled_qty:
        ledger.fill(
            order,
            f"{report.broker_order_id}@{report.filled_qty}",
            report.filled_qty - order.filled_qty,
            _derived_notional(order, report, ledger.notional(order)),
            Decimal(0),
            progress.ts,
        )
    order.broker_status, order.broker_order_id = report.broker_status, report.broker_order_id
    if report_stale(OrderStatus(order.status), OrderStatus(report.status)):
        return
    if _move(order, report.status):
        ledger.audits.append(
            audit_record(action=f"order.{report.status}", actor=None, subject=order, summary=str(order))
        )


def _derived_notional(order: Order, report: BrokerOrder, recorded: Decimal) -> Decimal:
    """The money of the quantity reported beyond the recorded one, from the broker's cumulative
    average: its average x its filled, less the notional already recorded."""
    if report.avg_fill_price is None:
        raise InvalidInput(f"{order.client_order_id}: the broker reports a fill without a price")
    return report.avg_fill_price * report.filled_qty - recorded


class _Ledger:
    """The fills of a batch of reports, with the positions and cash they move: read (and locked) in
    a few queries, moved in memory, written back together."""

    def __init__(self, orders: list[Order]) -> None:
        self.fills: list[Fill] = []
        self.audits: list[AuditRecord] = []
        self._recorded: dict[int, dict[str, Decimal]] = {o.pk: {} for o in orders}
        self._positions: dict[tuple, Position] = {}
        self._accounts: dict[tuple, TradingAccount] = {}
        self._moved_positions: dict[int, Position] = {}
        self._moved_accounts: dict[int, TradingAccount] = {}
        self._legs: dict[int, list[OrderLeg]] = {o.pk: [] for o in orders}
        self._moved_legs: dict[int, OrderLeg] = {}
        if not orders:
            return
        for order_id, execution_id, notional in Fill.objects.filter(order__in=orders).values_list(
            "order_id", "execution_id", "notional"
        ):
            self._recorded[order_id][execution_id] = notional
        options = [o for o in orders if o.asset_class == AssetClass.OPTION]
        for leg in OrderLeg.objects.select_for_update().filter(order__in=options).order_by("order", "index"):
            self._legs[leg.order_id].append(leg)
        keys = {
            (o.strategy_version_id, o.mode, symbol)
            for o in orders
            for symbol in ([leg.symbol for leg in self._legs[o.pk]] or [o.symbol])
        }
        versions, modes = {k[0] for k in keys}, {k[1] for k in keys}
        held = Position.objects.select_for_update().filter(
            strategy_version_id__in=versions, mode__in=modes, symbol__in={k[2] for k in keys}
        )
        self._positions = {(p.strategy_version_id, p.mode, p.symbol): p for p in held}
        if missing := keys - self._positions.keys():
            # Created (a concurrent creator is no error), then read and locked.
            created = [Position(strategy_version_id=v, mode=m, symbol=s) for v, m, s in missing]
            Position.objects.bulk_create(created, ignore_conflicts=True)
            self._positions = {(p.strategy_version_id, p.mode, p.symbol): p for p in held.all()}
        self._accounts = {
            (a.strategy_version_id, a.mode): a
            for a in TradingAccount.objects.select_for_update().filter(
                strategy_version_id__in=versions, mode__in=modes
            )
        }

    def executed(self, order: Order, execution_id: str) -> bool:
        return execution_id in self._recorded[order.pk]

    def notional(self, order: Order) -> Decimal:
        return sum(self._recorded[order.pk].values(), Decimal(0))

    def fill(
        self, order: Order, execution_id: str, qty: Decimal, notional: Decimal, commission: Decimal, ts
    ) -> None:
        """Record the fill and move the order, the position and the cash (by the exact notional)."""
        if order.filled_qty + qty > order.qty:
            raise Conflict(
                f"{order.client_order_id}: a fill of {qty} takes it past its quantity "
                f"({order.filled_qty} of {order.qty} filled)"
            )
        self._record(order, None, execution_id, qty, notional, commission, ts)
        total = order.filled_qty + qty
        order.avg_fill_price = ((order.avg_fill_price or Decimal(0)) * order.filled_qty + notional) / total
        order.filled_qty = total

    def legs_fill(self, order: Order, report: BrokerOrder, commission: Decimal, ts) -> None:
        """Record what the report's legs have filled beyond the recorded contracts, leg by leg (the
        commission with the first leg that moved), and move the order to the units filled at the
        net price per unit per share."""
        reported = {leg.symbol: leg for leg in report.legs}
        legs = self._legs[order.pk]
        if missing := [leg.symbol for leg in legs if leg.symbol not in reported]:
            raise InvalidInput(f"{order.client_order_id}: the broker reports no leg {', '.join(missing)}")
        for leg in legs:
            now = reported[leg.symbol]
            if now.filled_qty <= leg.filled_qty:
                continue
            if now.filled_qty > leg.ratio * order.qty or now.avg_fill_price is None:
                raise Conflict(
                    f"{order.client_order_id}: leg {leg.symbol} reports {now.filled_qty} filled of "
                    f"{leg.ratio * order.qty} contracts{'' if now.avg_fill_price else ' without a price'}"
                )
            qty = now.filled_qty - leg.filled_qty
            before = (leg.avg_fill_price or Decimal(0)) * leg.filled_qty
            notional = (now.avg_fill_price * now.filled_qty - before) * order.multiplier
            execution_id = f"{report.broker_order_id}:{leg.symbol}@{now.filled_qty}"
            self._record(order, leg, execution_id, qty, notional, commission, ts)
            commission = Decimal(0)
            leg.filled_qty, leg.avg_fill_price = now.filled_qty, now.avg_fill_price
            self._moved_legs[leg.pk] = leg
        units = {leg.filled_qty / leg.ratio for leg in legs}
        if len(units) == 1 and (filled := units.pop()) != order.filled_qty:
            order.filled_qty = filled
            order.avg_fill_price = sum(
                (Side(leg.side).sign * leg.ratio * leg.avg_fill_price for leg in legs), Decimal(0)
            )

    def _record(
        self,
        order: Order,
        leg: OrderLeg | None,
        execution_id: str,
        qty: Decimal,
        notional: Decimal,
        commission: Decimal,
        ts,
    ) -> None:
        """The fill (of the order, or of one leg of an option order) recorded, with the position it
        moves and the cash (by the exact notional)."""
        for value, name in ((qty, "qty"), (notional, "notional"), (commission, "commission")):
            _exact(value, Fill._meta.get_field(name), order)
        price = notional / qty
        self.fills.append(
            Fill(
                order=order,
                leg=leg,
                execution_id=execution_id,
                qty=qty,
                notional=notional,
                price=price,
                commission=commission,
                ts=ts,
            )
        )
        self._recorded[order.pk][execution_id] = notional
        side, symbol = (order.side, order.symbol) if leg is None else (leg.side, leg.symbol)
        signed = qty if side == Side.BUY else -qty
        position = self._positions[(order.strategy_version_id, order.mode, symbol)]
        held = CorePosition(position.symbol, position.qty, position.avg_price, position.realized_pnl)
        held.apply(signed, price)
        position.qty, position.avg_price, position.realized_pnl = held.qty, held.avg_price, held.realized_pnl
        self._moved_positions[position.pk] = position
        account = self._accounts.get((order.strategy_version_id, order.mode))
        if account is not None:  # in Python's Decimals: SQL arithmetic would be floating point on SQLite
            account.cash -= (notional if signed > 0 else -notional) + commission
            account.commission_paid += commission
            self._moved_accounts[account.pk] = account

    def save(self, now) -> None:
        Fill.objects.bulk_create(self.fills)
        rows_update(self._moved_legs.values(), ["filled_qty", "avg_fill_price"])
        for row in (*self._moved_positions.values(), *self._moved_accounts.values()):
            row.updated_at = now
        rows_update(self._moved_positions.values(), ["qty", "avg_price", "realized_pnl", "updated_at"])
        rows_update(self._moved_accounts.values(), ["cash", "commission_paid", "updated_at"])
        AuditRecord.objects.bulk_create(self.audits)


def _exact(value: Decimal, field, order: Order) -> None:
    """Money and quantities are stored whole: a value with more decimals than its column is an
    error, never rounded."""
    if value != value.quantize(Decimal(1).scaleb(-field.decimal_places)):
        raise InvalidInput(
            f"{order.client_order_id}: {field.name} {value} has more than {field.decimal_places} decimals"
        )
