"""Trading states (global and per strategy) and whether an order would shrink the position held."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from strategies.core.types import Order, Side


class TradingState(StrEnum):
    ACTIVE = "active"  # every order the other checks pass
    REDUCING = "reducing"  # only orders that shrink a position
    HALTED = "halted"  # no order at all: only cancels

    def __init__(self, value: str) -> None:
        self.severity = ("active", "reducing", "halted").index(value)

    def stricter(self, other: "TradingState") -> "TradingState":
        return self if self.severity >= other.severity else other

    def allows(self, *, shrinks: bool) -> bool:
        """Whether an order passes this state: one that shrinks a position, or any other."""
        return self is TradingState.ACTIVE or (self is TradingState.REDUCING and shrinks)


def strictest(*states: TradingState) -> TradingState:
    """The strictest of the states (ACTIVE when none is given)."""
    result = TradingState.ACTIVE
    for state in states:
        result = result.stricter(state)
    return result


def shrinks_position(side: Side, qty: float, held: float) -> bool:
    """Whether trading qty on side brings the signed position held closer to zero without crossing
    it (a flip opens a position on the other side: it does not shrink)."""
    return held != 0 and 0 < qty <= abs(held) and (held > 0) != (side is Side.BUY)


def order_shrinks_position(order: Order, held: float, qty: float | None = None) -> bool:
    """shrinks_position for an order; qty is its estimated quantity when it is sized by notional or
    equity fraction (without one, such an order does not count as shrinking)."""
    qty = order.qty if qty is None else qty
    return qty is not None and shrinks_position(order.side, qty, held)


@dataclass(frozen=True)
class TradingStateChanged:
    """The risk manager's own breakers moved its state (a trip, a new session, a reset)."""

    ts: datetime | None
    previous: TradingState
    state: TradingState
    reason: str
    by: str = ""  # who reset it, for a reset
