"""Interactive Brokers as a BrokerClient, over ib_async (TWS or IB Gateway on host:port).

The client_order_id travels as the IB order's orderRef, which IB keeps on the order and returns on
its trades and executions: that is how an order is found again, in this session or the next.

ib_async is asyncio underneath: the gateway's messages are handled only while its event loop runs,
which every blocking call here does (and wait_for_updates does on demand). One IBBroker belongs to
the thread that uses it; stream_updates' handler runs on that thread, inside those calls.
"""

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from ib_async import IB, LimitOrder, MarketOrder, Stock, StopLimitOrder, StopOrder, Trade
from ib_async.order import Order as IBOrder
from ib_async.util import UNSET_DOUBLE

from execution.core.brokers.base import (
    BrokerAccount,
    BrokerClient,
    BrokerError,
    BrokerOrder,
    BrokerPosition,
    BrokerUnavailable,
    OrderRejected,
    OrderRequest,
    TradeUpdate,
)
from marketdata.core.errors import NotFound
from strategies.core.types import OrderStatus, OrderType, Side, TimeInForce

log = logging.getLogger(__name__)

T = TypeVar("T")

_ACKNOWLEDGED = frozenset({"PreSubmitted", "Submitted"})
_WORKING = frozenset({"PreSubmitted", "Submitted", "PendingCancel"})
_CANCELLED = frozenset({"Cancelled", "ApiCancelled"})
_DONE = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})

_ORDER_TYPES = {"MKT": OrderType.MARKET, "LMT": OrderType.LIMIT, "STP": OrderType.STOP}
_ORDER_TYPES["STP LMT"] = OrderType.STOP_LIMIT

# The words of the stream for a status change (fills are told by their executions instead).
_STATUS_EVENTS = {
    OrderStatus.SUBMITTED: "pending_new",
    OrderStatus.ACCEPTED: "accepted",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.EXPIRED: "expired",
    OrderStatus.REJECTED: "rejected",
}

# While an order waits for its acknowledgment, an Inactive status may come before the error that
# says why: this long (at most) is given to the error to arrive.
_REJECTION_GRACE = 0.25


class IBBroker(BrokerClient):
    name = "ib"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        client_id: int,
        paper: bool,
        account: str = "",
        timeout: float = 10.0,
        ib: Any = None,
    ) -> None:
        """paper says what the caller connects to: whether IB trades paper or live money is decided
        by the gateway's login and port, not by anything sent here. ib: an IB-like object (tests
        pass a fake); by default a real ib_async.IB."""
        self.host = host
        self.port = port
        self.client_id = client_id
        self.paper = paper
        self.account = account
        self.timeout = timeout
        self._ib = ib if ib is not None else IB()
        # Without it, a blocking request to a gateway that stopped answering waits forever.
        self._ib.RequestTimeout = timeout
        # The requests placed in this session, by client_order_id: their exact Decimals.
        self._requests: dict[str, OrderRequest] = {}

    # ----- orders

    def place_order(self, request: OrderRequest) -> BrokerOrder:
        ib = self._connection()
        existing = _latest(ib.trades(), request.client_order_id)
        if existing is not None:
            # IB does not refuse a repeated orderRef: it would create a second order.
            raise OrderRejected(
                f"client_order_id {request.client_order_id} is already used by IB order "
                f"{_broker_order_id(existing)} ({existing.orderStatus.status})",
                details={"broker_order_id": _broker_order_id(existing)},
            )
        contract = Stock(request.symbol, "SMART", "USD")
        order = self._ib_order(request)
        errors: list[tuple[int, int, str]] = []

        def on_error(req_id: int, code: int, message: str, _contract: Any = None) -> None:
            errors.append((req_id, code, message))

        ib.errorEvent += on_error
        try:
            try:
                trade = ib.placeOrder(contract, order)
            except (OSError, TimeoutError) as exc:
                raise BrokerUnavailable(
                    f"IB did not take order {request.client_order_id} ({_reason(exc)}): outcome unknown"
                ) from exc
            self._requests[request.client_order_id] = request
            self._await_acknowledgment(ib, trade, errors)
        finally:
            ib.errorEvent -= on_error
        return self._broker_order(trade)

    def _ib_order(self, request: OrderRequest) -> IBOrder:
        action = "BUY" if request.side is Side.BUY else "SELL"
        qty = _float(request.qty)
        fields = {
            "orderRef": request.client_order_id,
            "tif": "GTC" if request.tif is TimeInForce.GTC else "DAY",
            "account": self.account,
        }
        kind = request.order_type
        if kind is OrderType.MARKET:
            return MarketOrder(action, qty, **fields)
        if kind is OrderType.LIMIT:
            return LimitOrder(action, qty, _float(request.limit_price), **fields)
        if kind is OrderType.STOP:
            return StopOrder(action, qty, _float(request.stop_price), **fields)
        return StopLimitOrder(action, qty, _float(request.limit_price), _float(request.stop_price), **fields)

    def _await_acknowledgment(self, ib: Any, trade: Trade, errors: list[tuple[int, int, str]]) -> None:
        """Return once IB has acknowledged (or filled) the order; OrderRejected when IB refused it;
        BrokerUnavailable when it said nothing within the timeout (the order may exist)."""
        client_order_id = trade.order.orderRef
        deadline = time.monotonic() + self.timeout
        graced = False
        while True:
            status = trade.orderStatus.status
            if _acknowledged(trade) or _filled(trade) > 0:
                return
            remaining = deadline - time.monotonic()
            if status in _DONE:
                message = _rejection_message(trade, errors)
                if message is None and not graced and remaining > 0:
                    graced = True
                    ib.waitOnUpdate(timeout=min(remaining, _REJECTION_GRACE))
                    continue
                raise OrderRejected(
                    f"IB rejected order {client_order_id}: {message or status}",
                    details={"broker_status": status},
                )
            if remaining <= 0:
                raise BrokerUnavailable(
                    f"IB did not acknowledge order {client_order_id} within {self.timeout:g}s "
                    f"(status {status}): outcome unknown"
                )
            if not ib.isConnected():
                raise BrokerUnavailable(
                    f"the IB connection dropped before order {client_order_id} was acknowledged: "
                    "outcome unknown"
                )
            try:
                ib.waitOnUpdate(timeout=remaining)
            except (OSError, TimeoutError) as exc:
                raise BrokerUnavailable(
                    f"IB failed while order {client_order_id} awaited its acknowledgment "
                    f"({_reason(exc)}): outcome unknown"
                ) from exc

    def cancel_order(self, client_order_id: str) -> None:
        def cancel(ib: Any) -> bool:
            trade = self._find_trade(ib, client_order_id)
            if trade is None:
                return False
            # A finished order has nothing left to cancel; IB would answer with an error.
            if trade.orderStatus.status not in _DONE:
                ib.cancelOrder(trade.order)
            return True

        if not self._request("cancel", cancel):
            raise NotFound(f"IB has no order with client_order_id {client_order_id}")

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        trade = self._request("order lookup", lambda ib: self._find_trade(ib, client_order_id))
        return None if trade is None else self._broker_order(trade)

    def get_open_orders(self) -> list[BrokerOrder]:
        trades = self._request("open orders", lambda ib: ib.openTrades())
        orders = [self._broker_order(trade) for trade in trades]
        return [order for order in orders if not order.status.terminal]

    def _find_trade(self, ib: Any, client_order_id: str) -> Trade | None:
        """The trade of this client_order_id among this session's trades, then among every open
        and completed order IB reports (those of other client ids and earlier sessions too)."""
        trade = _latest(ib.trades(), client_order_id)
        if trade is None:
            reported = [*ib.reqAllOpenOrders(), *ib.reqCompletedOrders(False)]
            trade = _latest([*reported, *ib.trades()], client_order_id)
        return trade

    # ----- account

    def get_positions(self) -> list[BrokerPosition]:
        def positions(ib: Any) -> tuple[str, list[Any]]:
            # A request, not ib.positions()'s cache: its answer is complete or it raises.
            return self._account_id(ib), ib.reqPositions()

        account, rows = self._request("positions", positions)
        result = []
        for row in rows:
            if row.account != account or not row.position:
                continue
            result.append(
                BrokerPosition(
                    symbol=_symbol(row.contract),
                    qty=_decimal(row.position),
                    avg_entry_price=_decimal(row.avgCost),
                )
            )
        return result

    def get_account(self) -> BrokerAccount:
        needed = ("NetLiquidation", "TotalCashValue", "BuyingPower")

        def values(ib: Any) -> tuple[str, dict[str, tuple[str, str]]]:
            account = self._account_id(ib)
            found = _account_tags(ib.accountValues(account), account)
            if not all(tag in found for tag in needed):
                found = _account_tags(ib.accountSummary(account), account) | found
            return account, found

        account, found = self._request("account values", values)
        missing = [tag for tag in needed if tag not in found]
        if missing:
            raise BrokerUnavailable(f"IB sent no {', '.join(missing)} for account {account}")
        try:
            equity, cash, buying_power = (Decimal(found[tag][0]) for tag in needed)
        except InvalidOperation as exc:
            raise BrokerError(f"IB sent an unreadable account value for {account}: {found}") from exc
        return BrokerAccount(
            account_id=account,
            currency=found["NetLiquidation"][1],
            cash=cash,
            equity=equity,
            buying_power=buying_power,
        )

    def _account_id(self, ib: Any) -> str:
        if self.account:
            return self.account
        accounts = list(ib.managedAccounts())
        if len(accounts) == 1:
            return accounts[0]
        if not accounts:
            raise BrokerUnavailable("IB reported no account for this login")
        raise BrokerError(f"the IB login manages several accounts ({', '.join(accounts)}): name the account")

    # ----- stream

    def stream_updates(self, handler: Callable[[TradeUpdate], None]) -> Callable[[], None]:
        ib = self._connection()
        told: dict[int, tuple[Trade, str]] = {}  # the trade (kept alive: its id stays unique), last event

        def on_status(trade: Trade) -> None:
            order = self._broker_order(trade)
            event = _STATUS_EVENTS.get(order.status)
            if trade.orderStatus.status == "PendingCancel":
                event = "pending_cancel"
            if event is None or told.get(id(trade), (None, ""))[1] == event:
                return
            told[id(trade)] = (trade, event)
            handler(TradeUpdate(event=event, order=order, ts=_last_time(trade)))

        def on_execution(trade: Trade, fill: Any) -> None:
            execution = fill.execution
            order = self._broker_order(trade, execution=execution)
            event = "fill" if order.status is OrderStatus.FILLED else "partial_fill"
            handler(
                TradeUpdate(
                    event=event,
                    order=order,
                    ts=fill.time or execution.time,
                    fill_qty=_decimal(execution.shares),
                    fill_price=_decimal(execution.price),
                    execution_id=execution.execId,
                )
            )

        ib.orderStatusEvent += on_status
        ib.execDetailsEvent += on_execution

        def stop() -> None:
            ib.orderStatusEvent -= on_status
            ib.execDetailsEvent -= on_execution

        return stop

    def wait_for_updates(self, seconds: float) -> None:
        """Let the gateway's messages in for this long (updates reach the stream meanwhile)."""
        self._request("updates", lambda ib: ib.sleep(seconds))

    def close(self) -> None:
        if self._ib.isConnected():
            self._ib.disconnect()

    # ----- connection

    def _connection(self) -> Any:
        """The IB object, connected: one attempt to (re)connect when it is not."""
        ib = self._ib
        if ib.isConnected():
            return ib
        try:
            # raiseSyncErrors: a connection whose first sync (orders, positions, account) timed
            # out would answer from partial caches.
            ib.connect(
                self.host,
                self.port,
                clientId=self.client_id,
                timeout=self.timeout,
                readonly=False,
                account=self.account,
                raiseSyncErrors=True,
            )
        except ConnectionRefusedError as exc:
            raise BrokerUnavailable(
                f"IB gateway at {self.host}:{self.port} refused the connection: is TWS or IB Gateway "
                "running there with its API enabled?"
            ) from exc
        except TimeoutError as exc:
            raise BrokerUnavailable(
                f"IB gateway at {self.host}:{self.port} did not answer within {self.timeout:g}s"
            ) from exc
        except OSError as exc:
            raise BrokerUnavailable(
                f"IB gateway at {self.host}:{self.port} (client id {self.client_id}): {_reason(exc)}"
            ) from exc
        if not ib.isConnected():
            raise BrokerUnavailable(f"IB gateway at {self.host}:{self.port} closed the connection")
        return ib

    def _request(self, what: str, call: Callable[[Any], T]) -> T:
        """call(ib), connected; when the connection drops during it, one reconnect and one more
        call (only reads and cancels come here: they are safe to repeat)."""
        fresh = not self._ib.isConnected()
        ib = self._connection()
        try:
            return call(ib)
        except (OSError, TimeoutError) as exc:
            if fresh or ib.isConnected():
                raise BrokerUnavailable(f"IB {what} failed: {_reason(exc)}") from exc
            log.warning("IB connection lost during %s: reconnecting once", what)
        ib = self._connection()
        try:
            return call(ib)
        except (OSError, TimeoutError) as exc:
            raise BrokerUnavailable(f"IB {what} failed after a reconnect: {_reason(exc)}") from exc

    # ----- records

    def _broker_order(self, trade: Trade, *, execution: Any = None) -> BrokerOrder:
        """The BrokerOrder of an IB trade; with an execution, as of that execution (its order
        status may not have caught up with it yet)."""
        order, ib_status = trade.order, trade.orderStatus
        request = self._requests.get(order.orderRef)
        order_type = _ORDER_TYPES.get(order.orderType)
        if order_type is None:  # an order placed outside the platform: its nearest kind
            order_type = OrderType.MARKET if _price(order.lmtPrice) is None else OrderType.LIMIT
        qty = request.qty if request else _decimal(order.totalQuantity)
        filled = _filled(trade)
        avg_price = _avg_fill_price(trade, filled)
        status = ib_order_status(trade)
        if execution is not None:
            filled = max(filled, _decimal(execution.cumQty))
            if execution.avgPrice:
                avg_price = _decimal(execution.avgPrice)
            status = OrderStatus.FILLED if filled >= qty else OrderStatus.PARTIALLY_FILLED
        if request:
            limit_price, stop_price = request.limit_price, request.stop_price
        else:
            has_limit = order_type in {OrderType.LIMIT, OrderType.STOP_LIMIT}
            has_stop = order_type in {OrderType.STOP, OrderType.STOP_LIMIT}
            limit_price = _price(order.lmtPrice) if has_limit else None
            stop_price = _price(order.auxPrice) if has_stop else None
        times = [entry.time for entry in trade.log if entry.time]
        return BrokerOrder(
            client_order_id=order.orderRef,
            broker_order_id=_broker_order_id(trade),
            symbol=_symbol(trade.contract),
            side=Side.BUY if order.action.upper() == "BUY" else Side.SELL,
            qty=qty,
            order_type=order_type,
            status=status,
            broker_status=ib_status.status,
            filled_qty=filled,
            avg_fill_price=avg_price,
            limit_price=limit_price,
            stop_price=stop_price,
            tif=TimeInForce.GTC if order.tif.upper() == "GTC" else TimeInForce.DAY,
            submitted_at=times[0] if times else None,
            updated_at=times[-1] if times else None,
        )


def ib_order_status(trade: Trade) -> OrderStatus:
    """The platform's status of an IB trade. ib_async turns IB's refusal of a new order (an
    error such as 201) into Cancelled: a cancel before any acknowledgment or fill, with an error,
    is a rejection."""
    status = trade.orderStatus.status
    filled = _filled(trade)
    if status == "Filled":
        return OrderStatus.FILLED
    if status == "Inactive":
        return OrderStatus.REJECTED
    if status in _CANCELLED:
        if not filled and not _acknowledged(trade) and _log_error(trade):
            return OrderStatus.REJECTED
        if any("expire" in entry.message.lower() for entry in trade.log):
            return OrderStatus.EXPIRED
        return OrderStatus.CANCELED
    if filled > 0:
        return OrderStatus.PARTIALLY_FILLED
    if status in _WORKING or _acknowledged(trade):
        # ValidationError and ApiUpdate leave an acknowledged order working.
        return OrderStatus.ACCEPTED
    # PendingSubmit, ApiPending, and any word IB adds later: not terminal, so it is asked again.
    return OrderStatus.SUBMITTED


def _acknowledged(trade: Trade) -> bool:
    return trade.orderStatus.status in _ACKNOWLEDGED or any(e.status in _ACKNOWLEDGED for e in trade.log)


def _log_error(trade: Trade) -> str | None:
    errors = [entry.message for entry in trade.log if entry.errorCode]
    return errors[-1] if errors else None


def _rejection_message(trade: Trade, errors: list[tuple[int, int, str]]) -> str | None:
    """IB's reason for refusing the order: from the trade's log, or from the errors seen while it
    waited (an error that comes after Inactive is not logged on the trade)."""
    if message := _log_error(trade):
        return message
    mine = [f"Error {code}: {text}" for req_id, code, text in errors if req_id == trade.order.orderId]
    return mine[-1] if mine else None


def _latest(trades: Iterable[Trade], client_order_id: str) -> Trade | None:
    """The trade of this orderRef: a working one before a finished one, the last one reported."""
    matches = [t for t in trades if t.order.orderRef == client_order_id]
    working = [t for t in matches if t.orderStatus.status not in _DONE]
    return (working or matches or [None])[-1]


def _filled(trade: Trade) -> Decimal:
    """Filled quantity by the best of IB's three accounts of it (a completed order read at
    connection carries it on the order, not on its status)."""
    counts = [
        _decimal(trade.orderStatus.filled),
        sum((_decimal(f.execution.shares) for f in trade.fills), Decimal(0)),
    ]
    if (on_order := _price(trade.order.filledQuantity)) is not None:
        counts.append(on_order)
    return max(counts)


def _avg_fill_price(trade: Trade, filled: Decimal) -> Decimal | None:
    if not filled:
        return None
    if trade.orderStatus.avgFillPrice:
        return _decimal(trade.orderStatus.avgFillPrice)
    shares = sum((_decimal(f.execution.shares) for f in trade.fills), Decimal(0))
    if not shares:
        return None
    return (
        sum((_decimal(f.execution.shares) * _decimal(f.execution.price) for f in trade.fills), Decimal(0))
        / shares
    )


def _account_tags(values: Iterable[Any], account: str) -> dict[str, tuple[str, str]]:
    """tag -> (value, currency) of the account's values in its own currency (not the per-currency
    or BASE rows)."""
    found: dict[str, tuple[str, str]] = {}
    for value in values:
        if value.account == account and not value.modelCode and value.currency not in {"", "BASE"}:
            found.setdefault(value.tag, (value.value, value.currency))
    return found


def _broker_order_id(trade: Trade) -> str:
    # permId is IB's id for the order across sessions and clients; orderId only until IB assigns it.
    perm_id = trade.order.permId or trade.orderStatus.permId
    return str(perm_id) if perm_id else f"{trade.order.clientId}:{trade.order.orderId}"


def _symbol(contract: Any) -> str:
    if contract.secType not in {"", "STK"} and contract.localSymbol:
        return contract.localSymbol
    return contract.symbol


def _last_time(trade: Trade) -> datetime:
    times = [entry.time for entry in trade.log if entry.time]
    return times[-1] if times else datetime.now(UTC)


def _decimal(value: float | Decimal | int) -> Decimal:
    # str() of a float is its shortest exact spelling: 101.25 -> Decimal("101.25").
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _price(value: float | Decimal | None) -> Decimal | None:
    if value is None or value == UNSET_DOUBLE:
        return None
    return _decimal(value)


def _float(value: Decimal | None) -> float:
    """IB takes floats: the Decimal's own digits, converted at the call."""
    return float(str(value))


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
