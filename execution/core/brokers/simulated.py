"""The paper broker: the backtest's SimulatedBroker behind the BrokerClient interface, filling
orders against the live or replayed bars it is given, with the backtest's slippage, commission and
fill timing. It needs no account anywhere: the PAPER default.

Its caller feeds it each bar (bar_open before the strategy decides, bar_close after) as the backtest
engine does, so a paper session over replayed bars fills exactly as the backtest of those bars.

Option orders fill the same way against the latest chain of their underlying it was given
(chain_update: contracts expiring by then settle, the book is marked and working limits meet the
chain): place_option_order fills one at the touch, or leaves a limit working, or refuses it with the
reason. Its portfolio is an OptionBook: contracts show in get_positions by their OCC symbols (market
value with the multiplier), and equity and buying power count them. Option orders and their fills
are reported by these calls and get_option_order, not as TradeUpdates, which carry one symbol.
"""

import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from execution.core.brokers.base import (
    BrokerAccount,
    BrokerClient,
    BrokerOrder,
    BrokerPosition,
    OrderRejected,
    OrderRequest,
    TradeUpdate,
)
from execution.core.costs import CommissionModel, SlippageModel
from execution.core.option_book import MarkBy, OptionBook, Settle
from execution.core.option_fills import OptionCommission
from execution.core.simulated import SimulatedBroker
from marketdata.core.errors import NotFound
from strategies.core.option_chain import ChainSnapshot
from strategies.core.options import OptionFill, OptionOrder
from strategies.core.types import Fill, Order, OrderStatus, PriceBar


def decimal_of(value: float) -> Decimal:
    """A float as the shortest Decimal that reads back as it (101.25, not 101.2500000000000035...)."""
    return Decimal(repr(float(value)))


class SimulatedBrokerClient(BrokerClient):
    name = "simulated"
    paper = True

    def __init__(
        self,
        *,
        cash: float,
        commission: CommissionModel,
        slippage: SlippageModel,
        fill_timing: Literal["close", "next_open"] = "close",
        max_participation: float | None = None,
        option_commission: OptionCommission | None = None,
        option_settlement: Settle = "cash",
        option_marks: MarkBy = "quote",
        account_id: str = "paper",
    ) -> None:
        self.portfolio = OptionBook(cash, settlement=option_settlement, marks=option_marks)
        self.broker = SimulatedBroker(
            self.portfolio,
            commission=commission,
            slippage=slippage,
            fill_timing=fill_timing,
            max_participation=max_participation,
            option_commission=option_commission,
        )
        self.account_id = account_id
        self._orders: dict[str, Order] = {}  # by client_order_id
        self._option_orders: dict[str, OptionOrder] = {}  # by id, the client order id of an option order
        self._requests: dict[str, OrderRequest] = {}
        self._bars: dict[str, PriceBar] = {}
        self._handlers: list[Callable[[TradeUpdate], None]] = []
        self._executions = itertools.count(1)
        self._lock = threading.RLock()

    # --- bars -----------------------------------------------------------------------------------

    def bar_open(self, bar: PriceBar) -> None:
        """A new bar: working orders that its prices reach fill (next-open market orders, limits,
        stops); it becomes the bar market orders fill against."""
        with self._lock:
            self._bars[bar.symbol] = bar
            if self.broker.working.get(bar.symbol):
                self.portfolio.mark(bar.symbol, bar.open)
                self._emit(self.broker.on_bar_open(bar), bar.ts)
            self.portfolio.mark(bar.symbol, bar.close)

    def bar_close(self, bar: PriceBar) -> None:
        """After the strategy decided at this bar: the rest of capped market orders fills."""
        with self._lock:
            self._emit(self.broker.on_bar_close(bar), bar.ts)

    def session_end(self, bar_index: dict[str, int]) -> None:
        with self._lock:
            working = [o for orders in self.broker.working.values() for o in orders]
            self.broker.end_of_session(bar_index)
            for order in working:
                if order.status is OrderStatus.EXPIRED:
                    self._event("expired", order)

    # --- option chains and orders -------------------------------------------------------------------

    def chain_update(self, chain: ChainSnapshot) -> list[OptionFill]:
        """A new chain of an underlying: contracts of it expiring by its day settle at its spot, the
        book is marked to it, and working option orders on it meet it. Returns their fills."""
        with self._lock:
            self.portfolio.settle_expiries(chain.ts, {chain.underlying: chain.spot})
            self.portfolio.mark_chain(chain)
            return self.broker.on_chain(chain)

    def place_option_order(self, order: OptionOrder) -> OptionFill | None:
        """Fill order at the touch of the latest chain of its underlying (its id is its client
        order id); None when it is a limit left working. OrderRejected says why it was refused."""
        with self._lock:
            if order.id in self._option_orders or order.id in self._orders:
                raise OrderRejected(f"client_order_id {order.id} must be unique")
            chain = self.portfolio.chains.get(order.underlying)
            if chain is None:
                raise OrderRejected(
                    f"no chain of {order.underlying} yet: the paper broker has none to fill against"
                )
            self._option_orders[order.id] = order
            rejected_before = len(self.broker.rejected)
            fill = self.broker.submit_option(order, chain)
            if len(self.broker.rejected) > rejected_before:
                raise OrderRejected(self.broker.rejected[-1][1])
            return fill

    def get_option_order(self, client_order_id: str) -> OptionOrder | None:
        with self._lock:
            return self._option_orders.get(client_order_id)

    # --- BrokerClient -----------------------------------------------------------------------------

    def place_order(self, request: OrderRequest) -> BrokerOrder:
        with self._lock:
            if request.client_order_id in self._orders or request.client_order_id in self._option_orders:
                raise OrderRejected(f"client_order_id {request.client_order_id} must be unique")
            bar = self._bars.get(request.symbol)
            if bar is None:
                raise OrderRejected(
                    f"no price of {request.symbol} yet: the paper broker has seen no bar of it"
                )
            order = Order(
                request.symbol,
                request.side,
                qty=float(request.qty),
                order_type=request.order_type,
                limit_price=None if request.limit_price is None else float(request.limit_price),
                stop_price=None if request.stop_price is None else float(request.stop_price),
                tif=request.tif,
                whole_shares=request.qty == request.qty.to_integral_value(),
                id=request.client_order_id,
            )
            self._orders[request.client_order_id] = order
            self._requests[request.client_order_id] = request
            rejected_before = len(self.broker.rejected)
            fills = self.broker.submit(order, bar)
            if len(self.broker.rejected) > rejected_before:
                raise OrderRejected(self.broker.rejected[-1][1])
            self._emit(fills, bar.ts)
            return self._report(order, bar.ts)

    def cancel_order(self, client_order_id: str) -> None:
        with self._lock:
            option_order = self._option_orders.get(client_order_id)
            if option_order is not None:
                working = [entry for entry in self.broker.working_options if entry[0] is option_order]
                for entry in working:
                    self.broker.working_options.remove(entry)
                    option_order.status = OrderStatus.CANCELED
                return
            order = self._orders.get(client_order_id)
            if order is None:
                raise NotFound(f"the paper broker has no order {client_order_id}")
            working = self.broker.working.get(order.symbol, [])
            if order in working:
                working.remove(order)
                order.status = OrderStatus.CANCELED
                self._event("canceled", order)

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        with self._lock:
            order = self._orders.get(client_order_id)
            return None if order is None else self._report(order, None)

    def get_open_orders(self) -> list[BrokerOrder]:
        with self._lock:
            return [self._report(o, None) for orders in self.broker.working.values() for o in orders]

    def get_positions(self) -> list[BrokerPosition]:
        with self._lock:
            book = self.portfolio
            shares = [
                BrokerPosition(
                    symbol,
                    decimal_of(held.qty),
                    decimal_of(held.avg_price),
                    decimal_of(held.qty * book.price(symbol)),
                )
                for symbol, held in book.positions.items()
                if held.qty
            ]
            return shares + [
                BrokerPosition(
                    symbol,
                    decimal_of(held.qty),
                    decimal_of(held.avg_price),
                    decimal_of(held.qty * book.contracts[symbol].multiplier * book.price(symbol)),
                )
                for symbol, held in book.option_positions.items()
            ]

    def get_account(self) -> BrokerAccount:
        with self._lock:
            equity = self.portfolio.equity
            return BrokerAccount(
                self.account_id,
                "USD",
                cash=decimal_of(self.portfolio.cash),
                equity=decimal_of(equity),
                buying_power=decimal_of(self.portfolio.buying_power()),
            )

    def stream_updates(self, handler: Callable[[TradeUpdate], None]) -> Callable[[], None]:
        with self._lock:
            self._handlers.append(handler)

        def stop() -> None:
            with self._lock:
                if handler in self._handlers:
                    self._handlers.remove(handler)

        return stop

    # --- reports ----------------------------------------------------------------------------------

    def _report(self, order: Order, ts: datetime | None) -> BrokerOrder:
        request = self._requests[order.id]
        return BrokerOrder(
            client_order_id=order.id,
            broker_order_id=f"paper-{order.id}",
            symbol=order.symbol,
            side=order.side,
            qty=request.qty,
            order_type=order.order_type,
            status=order.status,
            broker_status=str(order.status),
            filled_qty=decimal_of(order.filled_qty),
            avg_fill_price=decimal_of(order.avg_fill_price) if order.filled_qty else None,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            tif=request.tif,
            updated_at=ts,
        )

    def _emit(self, fills: list[Fill], ts: datetime) -> None:
        for fill in fills:
            order = self._orders[fill.order_id]
            self._event(
                "fill" if order.status is OrderStatus.FILLED else "partial_fill",
                order,
                ts=ts,
                fill_qty=decimal_of(fill.qty),
                fill_price=decimal_of(fill.price),
                commission=decimal_of(fill.commission),
                execution_id=f"paper-x{next(self._executions)}",
            )

    def _event(self, event: str, order: Order, *, ts: datetime | None = None, **fill) -> None:
        bar = self._bars.get(order.symbol)
        when = ts or (bar.ts if bar is not None else datetime.now(UTC))
        update = TradeUpdate(event, self._report(order, when), when, **fill)
        for handler in list(self._handlers):
            handler(update)
