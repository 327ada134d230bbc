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

Option orders (OptionOrderRequest: one to four legs on one underlying, filled as one at a net price)
go through place_option_order; their state is read back as any order's, through get_order, with
the fills of each leg in BrokerOrder.legs.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from marketdata.core.errors import ApplicationError, InvalidInput, NotFound, ServiceUnavailable
from marketdata.core.options import OptionContract
from strategies.core.options import OptionFill, option_terms_check
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
class LegRequest:
    """One leg of an option order: ``ratio`` contracts of the OCC symbol per unit, bought or sold."""

    symbol: str
    side: Side
    ratio: int = 1


@dataclass(frozen=True)
class OptionOrderRequest:
    """An option order as sent: ``qty`` units of one to four legs on one underlying, filled as one.
    ``limit_price`` is the net price per unit per share (as quoted), positive a debit, negative a
    credit (strategies.core.options' convention); ``reduce_only`` marks an order that closes legs
    held (the broker's buy/sell "to close")."""

    client_order_id: str
    legs: tuple[LegRequest, ...]
    qty: Decimal
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    tif: TimeInForce = TimeInForce.DAY
    reduce_only: bool = False

    def __post_init__(self) -> None:
        if not self.client_order_id:
            raise InvalidInput("an order request needs its client_order_id")
        symbols = [leg.symbol for leg in self.legs]
        option_terms_check(
            symbols,
            [OptionContract.parse(symbol).underlying for symbol in symbols],
            self.qty,
            self.order_type,
            self.limit_price,
        )
        if any(
            isinstance(leg.ratio, bool) or not isinstance(leg.ratio, int) or leg.ratio < 1
            for leg in self.legs
        ):
            raise InvalidInput("a leg's ratio must be a positive whole number")

    @property
    def underlying(self) -> str:
        return OptionContract.parse(self.legs[0].symbol).underlying


@dataclass(frozen=True)
class BrokerLeg:
    """A leg of an option order as the broker knows it: contracts filled so far and their average
    price per share."""

    symbol: str
    side: Side
    filled_qty: Decimal = Decimal(0)
    avg_fill_price: Decimal | None = None


@dataclass(frozen=True)
class BrokerOrder:
    """An order as the broker knows it. An option order has its legs; side is None for one of
    several legs (each leg has its own)."""

    client_order_id: str
    broker_order_id: str
    symbol: str
    side: Side | None
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
    legs: tuple[BrokerLeg, ...] = ()


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
    option_commission: Decimal = Decimal(0)  # per option contract

    @abstractmethod
    def place_order(self, request: OrderRequest) -> BrokerOrder:
        """Send the order. OrderRejected: refused; BrokerUnavailable: outcome unknown."""

    def place_option_order(self, request: OptionOrderRequest) -> BrokerOrder:
        """Send the option order, as place_order sends an order. A broker that does not trade
        options refuses it."""
        raise OrderRejected(f"{self.name} does not take option orders ({request.client_order_id})")

    @abstractmethod
    def cancel_order(self, client_order_id: str) -> None:
        """Ask the broker to cancel the order (a request: the cancel shows in get_order or the
        stream). NotFound when the broker has no such order."""

    @abstractmethod
    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client_order_id; None when the broker has none."""

    def get_option_fill(self, request: OptionOrderRequest) -> OptionFill | None:
        """What the option order has filled, read back from the broker (get_order) at its time of
        the order's last change, with this broker's commission on every contract filled; None while
        nothing has filled. NotFound when the broker has no such order."""
        order = self.get_order(request.client_order_id)
        if order is None:
            raise NotFound(f"{self.name} has no order {request.client_order_id}")
        ts = order.updated_at or order.submitted_at
        if ts is None:
            raise BrokerUnavailable(f"{self.name} tells no time of order {request.client_order_id}")
        contracts = sum((leg.filled_qty for leg in order.legs), Decimal(0))
        return option_fill_of(order, request, ts=ts, commission=self.option_commission * contracts)

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


def option_fill_of(
    order: BrokerOrder, request: OptionOrderRequest, *, ts: datetime, commission: Decimal = Decimal(0)
) -> OptionFill | None:
    """What an option order has filled so far as an OptionFill: units (the contracts of its legs over
    their ratios), the price of each leg in the request's order, and the net price per unit per share
    (the sum of the legs' signed ratio x price: debit positive); None while nothing has filled. A
    broker whose legs disagree on the units filled (it fills the legs together) is unreadable."""
    by_symbol = {leg.symbol: leg for leg in order.legs}
    missing = [leg.symbol for leg in request.legs if leg.symbol not in by_symbol]
    if missing:
        raise BrokerUnavailable(f"{order.client_order_id}: the broker reports no leg {', '.join(missing)}")
    legs = [(leg, by_symbol[leg.symbol]) for leg in request.legs]
    units = {reported.filled_qty / leg.ratio for leg, reported in legs}
    if len(units) != 1:
        raise BrokerUnavailable(
            f"{order.client_order_id}: the legs report different units filled ({sorted(units)})"
        )
    filled = units.pop()
    if filled == 0:
        return None
    if filled != filled.to_integral_value() or any(r.avg_fill_price is None for _, r in legs):
        raise BrokerUnavailable(f"{order.client_order_id}: the legs' fills cannot be read as whole units")
    prices = tuple(reported.avg_fill_price for _, reported in legs)
    net = sum(
        (leg.side.sign * leg.ratio * price for (leg, _), price in zip(legs, prices, strict=True)), Decimal(0)
    )
    return OptionFill(
        order_id=order.client_order_id,
        underlying=request.underlying,
        qty=int(filled),
        net_price=float(net),
        leg_prices=tuple(float(p) for p in prices),
        commission=float(commission),
        ts=ts,
    )
