"""The paper broker: the backtest's SimulatedBroker behind the BrokerClient interface, filling
orders against the live or replayed bars it is given, with the backtest's slippage, commission and
fill timing. It needs no account anywhere: the PAPER default.

Its caller feeds it each bar (bar_open before the strategy decides, bar_close after) as the backtest
engine does, so a paper session over replayed bars fills exactly as the backtest of those bars.

Option orders are taken as from any broker (place_option_order of an OptionOrderRequest, read back
by get_order with each leg's fills) and fill against the latest chain of their underlying it was
given (chain_update, the way its caller feeds it chains: contracts expiring by then settle, the book
is marked and working limits meet the chain): at the touch, or a limit works on, or the order is
refused with the reason. Their fills are streamed as TradeUpdates with the order's legs and the
commission of their contracts, as Alpaca streams them. Its portfolio is an OptionBook: contracts show
in get_positions by their OCC symbols (market value with the multiplier), and equity and buying
power count them.
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
    BrokerLeg,
    BrokerOrder,
    BrokerPosition,
    OptionOrderRequest,
    OrderRejected,
    OrderRequest,
    TradeUpdate,
)
from execution.core.costs import CommissionModel, SlippageModel
from execution.core.option_book import MarkBy, OptionBook, Settle
from execution.core.option_fills import OptionCommission
from execution.core.simulated import SimulatedBroker
from marketdata.core.errors import NotFound
from marketdata.core.options import OptionContract
from strategies.core.option_chain import ChainSnapshot
from strategies.core.options import OptionFill, OptionLeg, OptionOrder
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
        self.option_commission = decimal_of(self.broker.option_commission.per_contract)
        self._orders: dict[str, Order] = {}  # by client_order_id
        self._option_orders: dict[str, OptionOrder] = {}  # by id, the client order id of an option order
        self._option_requests: dict[str, OptionOrderRequest] = {}
        self._option_fills: dict[str, list[OptionFill]] = {}
        self._option_times: dict[str, datetime] = {}  # the time of the chain each was placed at
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
        book is marked to it, and working option orders on it meet it (their fills and expiries are
        streamed). Returns their fills."""
        with self._lock:
            self.portfolio.session_open(chain.underlying, chain.ts, chain.spot, chain)
            working = [order for order, _ in self.broker.working_options]
            fills = self.broker.on_chain(chain)
            for fill in fills:
                self._option_filled(fill)
            for order in working:
                if order.status is OrderStatus.EXPIRED:
                    self._option_event("expired", order, chain.ts)
            return fills

    def place_option_order(self, request: OptionOrderRequest) -> BrokerOrder:
        """Fill the order at the touch of the latest chain of its underlying, or leave a limit the
        touch does not reach working; OrderRejected says why it was refused."""
        with self._lock:
            cid = request.client_order_id
            if cid in self._option_orders or cid in self._orders:
                raise OrderRejected(f"client_order_id {cid} must be unique")
            chain = self.portfolio.chains.get(request.underlying)
            if chain is None:
                raise OrderRejected(
                    f"no chain of {request.underlying} yet: the paper broker has none to fill against"
                )
            order = OptionOrder(
                tuple(
                    OptionLeg(OptionContract.parse(leg.symbol), leg.side, leg.ratio) for leg in request.legs
                ),
                int(request.qty),
                order_type=request.order_type,
                limit_price=None if request.limit_price is None else float(request.limit_price),
                tif=request.tif,
                reduce_only=request.reduce_only,
                id=cid,
            )
            self._option_orders[cid] = order
            self._option_requests[cid] = request
            self._option_fills[cid] = []
            self._option_times[cid] = chain.ts
            rejected_before = len(self.broker.rejected)
            fill = self.broker.submit_option(order, chain)
            if len(self.broker.rejected) > rejected_before:
                raise OrderRejected(self.broker.rejected[-1][1])
            if fill is not None:
                self._option_filled(fill)
            return self._option_report(order)

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
                    self._option_event("canceled", option_order, self._option_times[client_order_id])
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
            if client_order_id in self._option_orders:
                return self._option_report(self._option_orders[client_order_id])
            order = self._orders.get(client_order_id)
            return None if order is None else self._report(order, None)

    def get_open_orders(self) -> list[BrokerOrder]:
        with self._lock:
            shares = [self._report(o, None) for orders in self.broker.working.values() for o in orders]
            return shares + [self._option_report(order) for order, _ in self.broker.working_options]

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

    def _option_report(self, order: OptionOrder) -> BrokerOrder:
        """An option order as the broker knows it: its legs' contracts filled and their average
        prices, the net per unit per share, at the time of its last fill (or of its placement)."""
        request, fills = self._option_requests[order.id], self._option_fills[order.id]
        units = sum(fill.qty for fill in fills)
        legs = []
        for i, leg in enumerate(order.legs):
            average = None
            if units:
                average = decimal_of(sum(fill.leg_prices[i] * fill.qty for fill in fills) / units)
            legs.append(BrokerLeg(leg.symbol, leg.side, Decimal(leg.ratio * units), average))
        net = _net(order, [leg.avg_fill_price for leg in legs]) if units else None
        return BrokerOrder(
            client_order_id=order.id,
            broker_order_id=f"paper-{order.id}",
            symbol=order.underlying,
            side=None,
            qty=request.qty,
            order_type=order.order_type,
            status=order.status,
            broker_status=str(order.status),
            filled_qty=Decimal(units),
            avg_fill_price=net,
            limit_price=request.limit_price,
            tif=request.tif,
            submitted_at=self._option_times[order.id],
            updated_at=fills[-1].ts if fills else self._option_times[order.id],
            legs=tuple(legs),
        )

    def _option_filled(self, fill: OptionFill) -> None:
        """An option order's fill: kept for its reports, and streamed with its commission."""
        self._option_fills[fill.order_id].append(fill)
        order = self._option_orders[fill.order_id]
        self._option_event(
            "fill" if order.status is OrderStatus.FILLED else "partial_fill",
            order,
            fill.ts,
            fill_qty=Decimal(fill.qty),
            fill_price=_net(order, [decimal_of(price) for price in fill.leg_prices]),
            commission=decimal_of(fill.commission),
            execution_id=f"paper-x{next(self._executions)}",
        )

    def _option_event(self, event: str, order: OptionOrder, ts: datetime, **fill) -> None:
        update = TradeUpdate(event, self._option_report(order), ts, **fill)
        for handler in list(self._handlers):
            handler(update)

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


def _net(order: OptionOrder, prices: list[Decimal]) -> Decimal:
    """The net per unit per share of the legs' prices (debit positive), in Decimals: exact."""
    return sum(
        (leg.side.sign * leg.ratio * price for leg, price in zip(order.legs, prices, strict=True)), Decimal(0)
    )
