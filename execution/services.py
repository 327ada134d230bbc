"""Writes of execution: orders stored before they are sent, sent once, and their progress (status,
fills) applied to positions and cash.

A fill is recorded from an execution the broker reports (its stream: execution id, quantity, price,
commission), once per execution id. A status report alone (the answer to a placement, a lookup)
moves the order's status; the quantity it says is filled beyond the recorded executions becomes a
fill only when reconciliation asks for it (derive=True): then its money is the broker's cumulative
average times its filled quantity, less what is recorded, and its id says it was derived.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import structlog
from django.db import transaction
from django.utils import timezone

from execution.core.brokers.base import BrokerClient, BrokerOrder, OrderRejected, OrderRequest, TradeUpdate
from execution.core.oms import client_order_id, order_send, transition_check
from execution.core.portfolio import Position as CorePosition
from execution.models import Fill, Order, Position, TradingAccount
from marketdata.core.errors import Conflict, InvalidInput
from quantsite.audit import audit
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


def order_create(
    *,
    version: StrategyVersion,
    mode: str,
    broker: str,
    spec: OrderSpec,
    signal: str,
    attempt: int = 1,
    actor=None,
) -> Order:
    """Store the order (NEW) under its client_order_id, derived from (version, signal, attempt).
    The same signal and attempt again returns the stored order: never a second one."""
    identifier = client_order_id(f"{version.name}-v{version.version}", signal, attempt)
    OrderRequest(
        identifier, spec.symbol, spec.side, spec.qty, spec.order_type, spec.limit_price, spec.stop_price
    )
    with transaction.atomic():
        order, created = Order.objects.get_or_create(
            client_order_id=identifier,
            defaults={
                "strategy_version": version,
                "mode": mode,
                "broker": broker,
                "symbol": spec.symbol,
                "side": spec.side,
                "qty": spec.qty,
                "order_type": spec.order_type,
                "limit_price": spec.limit_price,
                "stop_price": spec.stop_price,
                "tif": spec.tif,
                "signal": signal,
                "attempt": attempt,
                "reason": spec.reason,
            },
        )
        if created:
            audit(actor=actor, action="order.create", subject=order, summary=str(order), signal=signal)
    return order


def order_submit(*, order: Order, client: BrokerClient, actor=None) -> Order:
    """Send a NEW order (SUBMITTED is stored first). A refusal makes it REJECTED; an outcome still
    unknown after the lookup leaves it SUBMITTED with the reason, for reconciliation to settle."""
    if order.status != OrderStatus.NEW:
        return order  # already sent: never twice
    _move(order, OrderStatus.SUBMITTED)
    order.submitted_at = timezone.now()
    order.save(update_fields=["status", "submitted_at", "updated_at"])
    request = OrderRequest(
        order.client_order_id,
        order.symbol,
        Side(order.side),
        order.qty,
        OrderType(order.order_type),
        order.limit_price,
        order.stop_price,
        TimeInForce(order.tif),
    )
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
    audit(
        actor=actor,
        action="order.submit",
        subject=order,
        summary=str(order),
        resubmitted=sent.resubmitted,
        broker_order_id=sent.order.broker_order_id,
    )
    return order_progress(order=order, report=sent.order, ts=sent.order.updated_at or timezone.now())


def order_progress(
    *,
    order: Order,
    report: BrokerOrder,
    ts: datetime,
    execution: TradeUpdate | None = None,
    derive: bool = False,
) -> Order:
    """Apply what the broker reports of the order: its status; the execution it reports (once per
    execution id, never past the order's quantity); with derive, a fill for any quantity the broker
    says is filled beyond the recorded fills."""
    if report.client_order_id != order.client_order_id:
        raise InvalidInput(f"a report of {report.client_order_id} cannot update {order.client_order_id}")
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        before = (order.status, order.filled_qty, order.broker_status, order.broker_order_id)
        if execution is not None and execution.fill_qty and execution.execution_id:
            if not order.fills.filter(execution_id=execution.execution_id).exists():
                _fill_apply(
                    order,
                    execution.execution_id,
                    execution.fill_qty,
                    execution.fill_qty * execution.fill_price,
                    execution.commission or Decimal(0),
                    ts,
                )
        elif derive and report.filled_qty > order.filled_qty:
            _fill_apply(
                order,
                f"{report.broker_order_id}@{report.filled_qty}",
                report.filled_qty - order.filled_qty,
                _derived_notional(order, report),
                Decimal(0),
                ts,
            )
        if _move(order, report.status):
            audit(action=f"order.{report.status}", actor=None, subject=order, summary=str(order))
        order.broker_status, order.broker_order_id = report.broker_status, report.broker_order_id
        if (order.status, order.filled_qty, order.broker_status, order.broker_order_id) != before:
            order.save()  # a report that repeats what is known writes nothing
    return order


def order_update_apply(*, update: TradeUpdate) -> Order | None:
    """A streamed trade update, applied to its order (None: not an order of this platform)."""
    order = Order.objects.filter(client_order_id=update.order.client_order_id).first()
    if order is None:
        log.warning("trade update for an unknown order", client_order_id=update.order.client_order_id)
        return None
    return order_progress(order=order, report=update.order, ts=update.ts, execution=update)


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
            order = order_progress(order=order, report=report, ts=report.updated_at or timezone.now())
    audit(actor=actor, action="order.cancel", subject=order, summary=f"{order}: {reason}")
    return order


def account_open(*, version: StrategyVersion, mode: str, broker: str, capital: Decimal) -> TradingAccount:
    account, _ = TradingAccount.objects.get_or_create(
        strategy_version=version,
        mode=mode,
        defaults={"broker": broker, "initial_capital": capital, "cash": capital},
    )
    return account


# --- applying ------------------------------------------------------------------------------------


def _move(order: Order, status: OrderStatus) -> bool:
    moved = transition_check(OrderStatus(order.status), OrderStatus(status))
    if moved:
        order.status = status
    return moved


def _derived_notional(order: Order, report: BrokerOrder) -> Decimal:
    """The money of the quantity reported beyond the recorded one, from the broker's cumulative
    average: its average x its filled, less the notional already recorded."""
    if report.avg_fill_price is None:
        raise InvalidInput(f"{order.client_order_id}: the broker reports a fill without a price")
    recorded = sum((f.notional for f in order.fills.all()), Decimal(0))
    return report.avg_fill_price * report.filled_qty - recorded


def _fill_apply(
    order: Order, execution_id: str, qty: Decimal, notional: Decimal, commission: Decimal, ts
) -> None:
    """Record the fill and move the order, the position and the cash (by the exact notional)."""
    if order.filled_qty + qty > order.qty:
        raise Conflict(
            f"{order.client_order_id}: a fill of {qty} takes it past its quantity "
            f"({order.filled_qty} of {order.qty} filled)"
        )
    for value, field in ((qty, "qty"), (notional, "notional"), (commission, "commission")):
        _exact(value, Fill._meta.get_field(field), order)
    price = notional / qty
    Fill.objects.create(
        order=order,
        execution_id=execution_id,
        qty=qty,
        notional=notional,
        price=price,
        commission=commission,
        ts=ts,
    )
    total = order.filled_qty + qty
    order.avg_fill_price = ((order.avg_fill_price or Decimal(0)) * order.filled_qty + notional) / total
    order.filled_qty = total
    signed = qty if order.side == Side.BUY else -qty
    position, _ = Position.objects.select_for_update().get_or_create(
        strategy_version_id=order.strategy_version_id, mode=order.mode, symbol=order.symbol
    )
    held = CorePosition(position.symbol, position.qty, position.avg_price, position.realized_pnl)
    held.apply(signed, price)
    position.qty, position.avg_price, position.realized_pnl = held.qty, held.avg_price, held.realized_pnl
    position.save()
    account = (
        TradingAccount.objects.select_for_update()
        .filter(strategy_version_id=order.strategy_version_id, mode=order.mode)
        .first()
    )
    if account is not None:  # in Python's Decimals: SQL arithmetic would be floating point on SQLite
        account.cash -= (notional if signed > 0 else -notional) + commission
        account.commission_paid += commission
        account.save(update_fields=["cash", "commission_paid", "updated_at"])


def _exact(value: Decimal, field, order: Order) -> None:
    """Money and quantities are stored whole: a value with more decimals than its column is an
    error, never rounded."""
    if value != value.quantize(Decimal(1).scaleb(-field.decimal_places)):
        raise InvalidInput(
            f"{order.client_order_id}: {field.name} {value} has more than {field.decimal_places} decimals"
        )
