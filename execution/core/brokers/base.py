"""The BrokerClient interface: what the OMS asks of any broker (simulated, Alpaca, Interactive
Brokers), and the plain records brokers answer with.

Quantities and prices at this boundary are Decimals (money is never rounded on its way to or from
a broker). Statuses are the platform's OrderStatus; each broker maps its own onto them and keeps
its raw status beside.

Errors say what the OMS may do next:
- OrderRejected: the broker refused the request; definitive (no order exists).
- BrokerUnavailable: a timeout, a connection failure, a 5xx: the outcome is unknown. The order
  may or may not exist; the OMS looks it up by client_order_id before anything else, and never
  submits blindly again.
- BrokerRateLimited (a BrokerUnavailable): the broker asked to slow down (retry_after seconds).
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from marketdata.core.errors import ApplicationError, InvalidInput, ServiceUnavailable
from strategies.core.types import OrderStatus, OrderType, Side, TimeInForce


class BrokerError(ApplicationError):
    code = "broker_error"


class OrderRejected(BrokerError, InvalidInput):
    code = "order_rejected"


class BrokerUnavailable(BrokerError, ServiceUnavailable):
    code = "broker_unavailable"


class BrokerRateLimited(BrokerUnavailable):
    code = "broker_rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


@dataclass(frozen=True)
class OrderRequest:
    """An order as sent: client_order_id is fixed by the OMS before sending and identifies it."""

    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    tif: TimeInForce = TimeInForce.DAY

    def __post_init__(self) -> None:
        if not self.client_order_id:
            raise InvalidInput("an order request needs its client_order_id")
        if not self.qty.is_finite() or self.qty <= 0:
            raise InvalidInput(f"order quantity must be positive, not {self.qty}")
        needs_limit = self.order_type in {OrderType.LIMIT, OrderType.STOP_LIMIT}
        needs_stop = self.order_type in {OrderType.STOP, OrderType.STOP_LIMIT}
        if needs_limit != (self.limit_price is not None) or needs_stop != (self.stop_price is not None):
            raise InvalidInput(f"a {self.order_type} order needs exactly its own price fields")
        for price in (self.limit_price, self.stop_price):
            if price is not None and (not price.is_finite() or price <= 0):
                raise InvalidInput(f"order prices must be positive, not {price}")


@dataclass(frozen=True)
class BrokerOrder:
    """An order as the broker knows it."""

    client_order_id: str
    broker_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    order_type: OrderType
    status: OrderStatus
    broker_status: str  # the broker's own word for it
    filled_qty: Decimal = Decimal(0)
    avg_fill_price: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    tif: TimeInForce = TimeInForce.DAY
    submitted_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class BrokerPosition:
    symbol: str
    qty: Decimal  # signed: negative when short
    avg_entry_price: Decimal
    market_value: Decimal | None = None


@dataclass(frozen=True)
class BrokerAccount:
    account_id: str
    currency: str
    cash: Decimal
    equity: Decimal
    buying_power: Decimal
    trading_blocked: bool = False


@dataclass(frozen=True)
class TradeUpdate:
    """An event on an order, streamed by the broker: event is the broker's word ("fill",
    "partial_fill", "canceled", ...); for fills, fill_qty and fill_price are this execution's."""

    event: str
    order: BrokerOrder
    ts: datetime
    fill_qty: Decimal | None = None
    fill_price: Decimal | None = None
    execution_id: str = ""
    commission: Decimal | None = None  # of this execution, when the broker says it with the fill


class BrokerClient(ABC):
    name: ClassVar[str]
    paper: bool  # True for a paper (simulated or paper-account) broker, False for live money

    @abstractmethod
    def place_order(self, request: OrderRequest) -> BrokerOrder:
        """Send the order. OrderRejected: refused; BrokerUnavailable: outcome unknown."""

    @abstractmethod
    def cancel_order(self, client_order_id: str) -> None:
        """Ask the broker to cancel the order (a request: the cancel shows in get_order or the
        stream). NotFound when the broker has no such order."""

    @abstractmethod
    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client_order_id; None when the broker has none."""

    @abstractmethod
    def get_open_orders(self) -> list[BrokerOrder]:
        """Every order still working (not in a terminal state)."""

    @abstractmethod
    def get_positions(self) -> list[BrokerPosition]:
        """Every non-zero position. A failure raises: an unanswered request is never "flat"."""

    @abstractmethod
    def get_account(self) -> BrokerAccount: ...

    @abstractmethod
    def stream_updates(self, handler: Callable[[TradeUpdate], None]) -> Callable[[], None]:
        """Deliver trade updates to handler (from a background thread) until the returned function
        is called."""
