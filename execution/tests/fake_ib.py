# ruff: noqa: N802, N803 (ib_async's camelCase names, as the broker calls them)
"""A fake of ib_async's IB object for IBBroker's tests: the methods and events the broker uses,
over state the test drives (orders acknowledged, filled, rejected, cancelled; positions; account
values; a dropped connection; a gateway that refuses). Its records are ib_async's own classes
(Trade, Order, OrderStatus, Fill, Execution, Position, AccountValue), so the broker reads real
shapes; its events are eventkit Events, as ib_async's are.

As with a real gateway, what happens to a new order happens "on the next update": during the
broker's waitOnUpdate / sleep, never inside placeOrder.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from eventkit import Event
from ib_async import AccountValue, CommissionReport, Execution, Fill, Position, Stock, Trade, TradeLogEntry
from ib_async.order import Order, OrderStatus

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
ACCOUNT = "DU1234567"


class FakeIB:
    RequestTimeout = 0.0

    def __init__(self, *, accounts: tuple[str, ...] = (ACCOUNT,), reaction: str = "acknowledge") -> None:
        self.accounts = list(accounts)
        # What the gateway does with a new order at the next update: "acknowledge", "fill" (all of
        # it at fill_price), "reject" (with rejection), "reject_inactive", or "silence".
        self.reaction = reaction
        self.fill_price = 100.0
        self.rejection = (201, "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. INSUFFICIENT EQUITY")
        self.refusal: OSError | None = None  # set: connect raises it (a dead or refusing gateway)
        self.connect_calls: list[dict] = []
        self.connected = False
        self.client_id = 0
        self.gateway: list[Trade] = []  # every order IB knows today, of any client and session
        self.session: list[Trade] = []  # this connection's trades: ib.trades()
        self.position_rows: list[Position] = []
        self.values: list[AccountValue] = []  # what accountValues() holds
        self.summary: list[AccountValue] = []  # what accountSummary() answers
        self.failures: dict[str, Exception] = {}  # method name -> raised by its next call
        self.drop_during: str | None = None  # method name: the connection drops during its next call
        self.calls: list[str] = []
        self.now = T0
        self._pending: list[Callable[[], None]] = []
        self._order_ids = iter(range(1, 10_000))
        self._perm_ids = iter(range(90_001, 100_000))
        self._exec_ids = iter(range(1, 10_000))
        self.orderStatusEvent = Event("orderStatusEvent")
        self.execDetailsEvent = Event("execDetailsEvent")
        self.errorEvent = Event("errorEvent")
        self.disconnectedEvent = Event("disconnectedEvent")
        self.connectedEvent = Event("connectedEvent")

    # ----- connection

    def connect(self, host, port, clientId=1, timeout=4, readonly=False, account="", raiseSyncErrors=False):
        self.connect_calls.append(
            {
                "host": host,
                "port": port,
                "clientId": clientId,
                "timeout": timeout,
                "readonly": readonly,
                "account": account,
                "raiseSyncErrors": raiseSyncErrors,
            }
        )
        if self.refusal is not None:
            raise self.refusal
        self.connected, self.client_id = True, clientId
        # ib_async's sync at connection: this client's open orders and all completed orders.
        self.session = [t for t in self.gateway if t.order.clientId == clientId or t.isDone()]
        self.connectedEvent.emit()
        return self

    def isConnected(self) -> bool:
        return self.connected

    def disconnect(self) -> None:
        if self.connected:
            self.connected = False
            self.session = []
            self.disconnectedEvent.emit()

    def drop(self) -> None:
        """The gateway goes away (a restart, a network cut): ib_async clears its session state."""
        self.disconnect()

    # ----- orders

    def placeOrder(self, contract: Stock, order: Order) -> Trade:
        self._call("placeOrder")
        order.clientId, order.orderId = self.client_id, next(self._order_ids)
        status = OrderStatus(orderId=order.orderId, status="PendingSubmit", remaining=order.totalQuantity)
        trade = Trade(contract, order, status, [], [TradeLogEntry(self.now, "PendingSubmit")])
        self.gateway.append(trade)
        self.session.append(trade)
        reactions = {
            "acknowledge": lambda: self.acknowledge(trade),
            "fill": lambda: (self.acknowledge(trade), self.fill(trade, order.totalQuantity, self.fill_price)),
            "reject": lambda: self.reject(trade, *self.rejection),
            "reject_inactive": lambda: self.reject(trade, *self.rejection, status="Inactive"),
            "silence": lambda: None,
        }
        self._pending.append(reactions[self.reaction])
        return trade

    def cancelOrder(self, order: Order, manualCancelOrderTime: str = "") -> Trade | None:
        self._call("cancelOrder")
        trade = next(t for t in self.gateway if t.order is order)
        self._set_status(trade, "PendingCancel")
        self._pending.append(lambda: self.confirm_cancel(trade))
        return trade

    def trades(self) -> list[Trade]:
        self._call("trades")
        return list(self.session)

    def openTrades(self) -> list[Trade]:
        self._call("openTrades")
        return [t for t in self.session if not t.isDone()]

    def reqAllOpenOrders(self) -> list[Trade]:
        self._call("reqAllOpenOrders")
        return [t for t in self.gateway if not t.isDone()]

    def reqCompletedOrders(self, apiOnly: bool) -> list[Trade]:
        self._call("reqCompletedOrders")
        return [t for t in self.gateway if t.isDone()]

    # ----- account

    def managedAccounts(self) -> list[str]:
        return list(self.accounts)

    def reqPositions(self) -> list[Position]:
        self._call("reqPositions")
        return list(self.position_rows)

    def accountValues(self, account: str = "") -> list[AccountValue]:
        self._call("accountValues")
        return [v for v in self.values if not account or v.account == account]

    def accountSummary(self, account: str = "") -> list[AccountValue]:
        self._call("accountSummary")
        return [v for v in self.summary if not account or v.account == account]

    # ----- the event loop

    def waitOnUpdate(self, timeout: float = 0) -> bool:
        self._call("waitOnUpdate")
        if not self._pending:
            time.sleep(min(timeout, 0.02))  # nothing will come: a short, bounded wait
            return False
        self._run_pending()
        return True

    def sleep(self, secs: float = 0.02) -> bool:
        self._call("sleep")
        self._run_pending()
        return True

    # ----- what the gateway does (the test drives these)

    def acknowledge(self, trade: Trade) -> None:
        trade.order.permId = trade.orderStatus.permId = next(self._perm_ids)
        self._set_status(trade, "PreSubmitted")
        self._set_status(trade, "Submitted")

    def fill(self, trade: Trade, qty: float, price: float) -> Fill:
        """One execution; the status follows it, as IB's orderStatus does after execDetails."""
        self.now += timedelta(seconds=1)
        status, order = trade.orderStatus, trade.order
        done = status.filled + qty
        execution = Execution(
            execId=f"0000e1a7.{next(self._exec_ids):04d}.01.01",
            time=self.now,
            acctNumber=self.accounts[0],
            exchange="ISLAND",
            side="BOT" if order.action == "BUY" else "SLD",
            shares=qty,
            price=price,
            permId=order.permId,
            clientId=order.clientId,
            orderId=order.orderId,
            cumQty=done,
            avgPrice=(status.avgFillPrice * status.filled + price * qty) / done,
            orderRef=order.orderRef,
        )
        fill = Fill(trade.contract, execution, CommissionReport(), self.now)
        trade.fills.append(fill)
        trade.log.append(TradeLogEntry(self.now, status.status, f"Fill {qty}@{price}"))
        self.execDetailsEvent.emit(trade, fill)
        status.filled, status.remaining = done, order.totalQuantity - done
        status.avgFillPrice, status.lastFillPrice = execution.avgPrice, price
        self._set_status(trade, "Filled" if status.remaining <= 0 else "Submitted", force=True)
        return fill

    def reject(self, trade: Trade, code: int, message: str, status: str = "Cancelled") -> None:
        """IB refuses the order. ib_async logs the error on the trade and marks it Cancelled; when
        Inactive comes first, the error that follows reaches errorEvent only."""
        logged = f"Error {code}, reqId {trade.order.orderId}: {message}"
        if status == "Inactive":
            self._set_status(trade, "Inactive")
        else:
            self._set_status(trade, status, message=logged, error_code=code)
        self.errorEvent.emit(trade.order.orderId, code, message, trade.contract)

    def confirm_cancel(self, trade: Trade) -> None:
        code, message = 202, "Order Canceled - reason:"
        logged = f"Error {code}, reqId {trade.order.orderId}: {message}"
        self._set_status(trade, "Cancelled", message=logged, error_code=code)
        self.errorEvent.emit(trade.order.orderId, code, message, trade.contract)

    def expire(self, trade: Trade) -> None:
        # The wording is the fake's: IB's own text at a DAY order's expiry varies.
        self._set_status(trade, "Cancelled", message="Order expired at the close (DAY)")

    def add_earlier_order(self, trade: Trade) -> None:
        """An order IB knows from another client or an earlier session (not in this session)."""
        self.gateway.append(trade)

    # ----- internals

    def _set_status(self, trade: Trade, status: str, *, message: str = "", error_code: int = 0, force=False):
        if trade.orderStatus.status == status and not force:
            return
        self.now += timedelta(seconds=1)
        trade.orderStatus.status = status
        trade.log.append(TradeLogEntry(self.now, status, message, error_code))
        self.orderStatusEvent.emit(trade)

    def _run_pending(self) -> None:
        pending, self._pending = self._pending, []
        for action in pending:
            action()

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name in self.failures:
            raise self.failures.pop(name)
        if name == self.drop_during:
            self.drop_during = None
            self.drop()
            raise ConnectionError("Socket disconnect")
        if not self.connected and name not in {"trades", "openTrades", "waitOnUpdate", "sleep"}:
            raise ConnectionError("Not connected")  # what ib_async's client raises


def position(symbol: str, qty: float, avg_cost: float, account: str = ACCOUNT) -> Position:
    return Position(account, Stock(symbol, "SMART", "USD"), qty, avg_cost)


def account_value(tag: str, value: str, currency: str = "USD", account: str = ACCOUNT) -> AccountValue:
    return AccountValue(account, tag, value, currency, "")
