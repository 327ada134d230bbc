"""The order management rules every order follows, on paper and live: its states, its identity,
and how it is sent without ever being sent twice.

States (DESIGN.md section 8): NEW -> SUBMITTED -> ACCEPTED -> PARTIALLY_FILLED -> FILLED, or
CANCELED / REJECTED / EXPIRED. A terminal state is never left; an update that repeats the current
state is no transition (brokers repeat themselves).

Identity: an order's client_order_id is derived from (strategy, signal, attempt) and fixed before
the order is sent, so the broker recognises a retry of the same order.

Sending: a timeout or a 5xx leaves the outcome unknown. The order is then looked up by its
client_order_id; only when the broker has no such order is it submitted again, with the same id
(a broker that received the first one refuses the second as a duplicate).
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from execution.core.brokers.base import (
    BrokerClient,
    BrokerOrder,
    BrokerUnavailable,
    OptionOrderRequest,
    OrderRejected,
    OrderRequest,
)
from marketdata.core.errors import Conflict, InvalidInput
from strategies.core.types import OrderStatus

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.NEW: frozenset({OrderStatus.SUBMITTED, OrderStatus.REJECTED, OrderStatus.CANCELED}),
    OrderStatus.SUBMITTED: frozenset(
        {
            OrderStatus.ACCEPTED,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.ACCEPTED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED}),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}
# How far along its life each state is: a broker's report of an earlier state than the one known
# (its placement answer and its stream cross) is stale, not a move back.
PROGRESS = {
    OrderStatus.NEW: 0,
    OrderStatus.SUBMITTED: 1,
    OrderStatus.ACCEPTED: 2,
    OrderStatus.PARTIALLY_FILLED: 3,
}
MAX_CLIENT_ORDER_ID = 48  # Alpaca takes 128 characters, IB's orderRef more: well inside both


def transition_check(current: OrderStatus, new: OrderStatus) -> bool:
    """Whether moving from current to new changes anything: False for a repeat of the current state
    (no transition), True for an allowed move; Conflict for any other (a terminal state is never
    left, states never go back)."""
    if new == current:
        return False
    if new not in TRANSITIONS[current]:
        raise Conflict(f"an order cannot go from {current} to {new}")
    return True


def report_stale(current: OrderStatus, reported: OrderStatus) -> bool:
    """Whether a broker's report of `reported` tells of an earlier state than the known `current`
    (e.g. the answer "accepted" to a placement, read after the stream's "filled"): nothing to apply.
    A terminal report never is: a terminal state reported against another one is a conflict."""
    if reported.terminal:
        return False
    return current.terminal or PROGRESS[reported] < PROGRESS[current]


def client_order_id(strategy: str, signal: str, attempt: int = 1) -> str:
    """The id of attempt `attempt` at the order for `signal` (e.g. "AAA long 2024-05-02T20:00Z") of
    `strategy`: the same inputs give the same id, so a resent order carries its first id."""
    if attempt < 1:
        raise InvalidInput(f"an order attempt counts from 1, not {attempt}")
    digest = hashlib.sha256(f"{strategy}\x1f{signal}".encode()).hexdigest()[:16]
    prefix = "".join(c for c in strategy if c.isalnum() or c in "-_")[:20] or "s"
    identifier = f"{prefix}-{digest}-{attempt}"
    return identifier[:MAX_CLIENT_ORDER_ID]


@dataclass(frozen=True)
class Sent:
    """What sending an order came to: the broker's order (None: the outcome is still unknown after
    the lookup, which reconciliation settles) and whether it had to be submitted a second time."""

    order: BrokerOrder | None
    resubmitted: bool = False
    unknown_reason: str = ""


def order_send(broker: BrokerClient, request: OrderRequest | OptionOrderRequest) -> Sent:
    """Place the order (an option order through place_option_order); on an unknown outcome look it
    up by client_order_id and place it again only when the broker has none. OrderRejected propagates
    (the broker refused: no order exists)."""
    place = broker.place_option_order if isinstance(request, OptionOrderRequest) else broker.place_order
    try:
        return Sent(place(request))
    except BrokerUnavailable as first:
        try:
            found = broker.get_order(request.client_order_id)
        except BrokerUnavailable as lookup:
            return Sent(None, unknown_reason=f"{first.message}; the lookup failed too: {lookup.message}")
        if found is not None:
            return Sent(found)
        try:
            return Sent(place(request), resubmitted=True)
        except BrokerUnavailable as second:
            return Sent(None, resubmitted=True, unknown_reason=second.message)
        except OrderRejected:
            # Refused as a duplicate when the first one arrived after all (the lookup came too
            # early): then it is there now.
            try:
                late = broker.get_order(request.client_order_id)
            except BrokerUnavailable as lookup:
                return Sent(None, resubmitted=True, unknown_reason=lookup.message)
            if late is None:
                raise
            return Sent(late, resubmitted=True)


@dataclass(frozen=True)
class FillRecord:
    """One execution of an order, as the OMS applies it (once: execution_id identifies it)."""

    execution_id: str
    qty: Decimal
    price: Decimal
    commission: Decimal
    ts: datetime


def fill_check(order_qty: Decimal, filled_qty: Decimal, fill: FillRecord) -> None:
    """A fill must be positive, priced, and must not take the order past its quantity."""
    if not fill.qty.is_finite() or fill.qty <= 0:
        raise InvalidInput(f"fill {fill.execution_id}: quantity must be positive, not {fill.qty}")
    if not fill.price.is_finite() or fill.price <= 0:
        raise InvalidInput(f"fill {fill.execution_id}: price must be positive, not {fill.price}")
    if filled_qty + fill.qty > order_qty:
        raise Conflict(
            f"fill {fill.execution_id} of {fill.qty} takes the order past its quantity "
            f"({filled_qty} of {order_qty} filled)"
        )
