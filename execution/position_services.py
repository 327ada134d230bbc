"""Closing a position on a person's request: the version's orders working on the symbol cancelled,
then a reduce-only market order for the whole quantity, checked by the version's risk manager (its
policy and the trading states in force) and sent through the OMS.

Through a real broker (Alpaca, IB) the order is stored and sent at once. The simulated paper
broker's orders live in the running session's process, so there the request is recorded on the
position and the session sends the order at its next bar (position_closes_take), checked again by
its own risk manager, as it does for the kill switch's flatten request.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from execution.brokers import broker_client_build
from execution.choices import BrokerName
from execution.core.brokers.base import BrokerClient
from execution.manual_order_services import order_risk_check, risk_refused, trading_account_get
from execution.models import OPEN_STATUSES, Order, Position
from execution.services import OrderSpec, order_cancel, order_create, order_submit
from marketdata.core.errors import Conflict, InvalidInput
from marketdata.core.options import OptionContract
from quantsite.audit import audit
from quantsite.roles import OPERATOR, role_require
from strategies.core.types import Order as CoreOrder
from strategies.core.types import OrderType, Side, TimeInForce

CLOSE_REASON = "position close"


@dataclass(frozen=True)
class PositionClose:
    """What a close did: the order sent (a real broker), or the request left for the session."""

    position: Position
    order: Order | None

    @property
    def outcome(self) -> str:
        return "requested" if self.order is None else "sent"


def closing_order(*, symbol: str, qty: float) -> CoreOrder:
    """The order that closes a signed quantity: a reduce-only market order for all of it."""
    side = Side.SELL if qty > 0 else Side.BUY
    return CoreOrder(symbol, side, qty=abs(qty), reduce_only=True, tif=TimeInForce.DAY, reason=CLOSE_REASON)


def position_close(*, position: Position, by) -> PositionClose:
    """Close the position (an operator's act, in the audit trail). Refused (Conflict) when it is flat,
    when a close of it is already under way, or when the risk manager refuses the order (HALTED: the
    kill switch's flatten is the way out then), with the manager's reasons."""
    role_require(by, OPERATOR, "close a position")
    if _is_option(position.symbol):
        raise Conflict(
            f"{position.symbol} is an option contract: close it with a reduce-only option order of its "
            "legs (a contract's money is its price x its multiplier, which an order of shares lacks)"
        )
    if not position.qty:
        raise Conflict(f"{position.symbol} of {position.strategy_version} is flat: nothing to close")
    account = trading_account_get(version=position.strategy_version, mode=position.mode)
    if position.close_requested_at is not None:
        raise Conflict(f"a close of {position.symbol} was already requested at {position.close_requested_at}")
    working = list(
        Order.objects.filter(
            strategy_version_id=position.strategy_version_id,
            mode=position.mode,
            symbol=position.symbol,
            status__in=OPEN_STATUSES,
        )
    )
    closing = next((o for o in working if o.reason == CLOSE_REASON), None)
    if closing is not None:
        raise Conflict(f"a close of {position.symbol} is already working: {closing}")

    order = closing_order(symbol=position.symbol, qty=float(position.qty))
    version = position.strategy_version
    decision = order_risk_check(version=version, mode=position.mode, order=order)
    if not decision.approved:
        raise risk_refused(
            by=by,
            action="position.close_refused",
            subject=position,
            what=f"{version} {position.symbol}",
            decision=decision,
            said=f"to close {position.symbol}",
        )

    if account.broker == BrokerName.SIMULATED:
        # Its broker lives in the running session: the session sends the order at its next bar.
        with transaction.atomic():
            position.close_requested_at, position.close_requested_by = timezone.now(), by
            position.save(update_fields=["close_requested_at", "close_requested_by", "updated_at"])
            audit(
                actor=by,
                action="position.close_request",
                subject=position,
                summary=f"{version} {position.mode}: close {position.qty} {position.symbol} at the next bar",
            )
        return PositionClose(position, None)

    client = broker_client_build(broker=account.broker, mode=position.mode, capital=0.0)
    for other in working:  # nothing of the version's left working on the symbol reopens it
        order_cancel(order=other, client=client, actor=by, reason=CLOSE_REASON)
    spec = OrderSpec(
        symbol=position.symbol,
        side=order.side,
        qty=abs(position.qty),
        order_type=OrderType.MARKET,
        tif=TimeInForce.DAY,
        reason=CLOSE_REASON,
    )
    stored = order_create(
        version=version,
        mode=position.mode,
        broker=account.broker,
        spec=spec,
        signal=f"close {position.symbol} {timezone.now().isoformat()}",
        actor=by,
    )
    audit(actor=by, action="position.close", subject=position, summary=f"{version}: {stored}")
    return PositionClose(position, order_submit(order=stored, client=client, actor=by))


def _is_option(symbol: str) -> bool:
    try:
        OptionContract.parse(symbol)
    except InvalidInput:
        return False
    return True


def working_orders_cancel(*, client: BrokerClient, symbol: str) -> None:
    """Cancel every order working at client on symbol (a session's paper broker holds only its
    version's): a close leaves nothing that would reopen the position."""
    for order in client.get_open_orders():
        if order.symbol == symbol:
            client.cancel_order(order.client_order_id)


def position_closes_take(*, version, mode: str) -> list[Position]:
    """The positions of a session whose close was requested (with who asked, close_requested_by),
    their requests cleared as they are taken: the session sends each order once."""
    ids = list(
        Position.objects.filter(
            strategy_version=version, mode=mode, close_requested_at__isnull=False
        ).values_list("pk", flat=True)
    )
    if not ids:  # asked at every bar: the common answer in one narrow query
        return []
    requested = list(
        Position.objects.filter(pk__in=ids).select_related("close_requested_by", "strategy_version")
    )
    Position.objects.filter(pk__in=ids).update(close_requested_at=None, close_requested_by=None)
    return requested


def position_close_done(*, position: Position, by, refused: str = "") -> None:
    """A session carried a requested close out, or refused it (refused: why)."""
    audit(
        actor=by,
        action="position.close_refused" if refused else "position.close",
        subject=position,
        summary=f"{position.strategy_version} {position.mode}: close {position.symbol} "
        + (f"refused: {refused}" if refused else "sent"),
    )
