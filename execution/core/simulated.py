"""The simulated broker: fills orders against bars with slippage, commission and volume caps.

Backtests use it over history and paper trading over live or replayed bars: one fill model.
Market orders fill at the signal bar's close (fill_timing "close", the seed's rule) or at the next
bar's open ("next_open"). Limit and stop orders work from the next bar: a buy limit fills when the
low reaches it, at the better of the open and the limit; a buy stop triggers when the high reaches
it and fills at the worse of the open and the stop, plus slippage (sells mirror). A participation
cap fills at most that share of a bar's volume; the rest waits for later bars. DAY orders expire
at the end of the session they work in.

Option orders fill against a session's chain (execution.core.option_fills): as one order at the
net of their legs at the touch, when the book (an OptionBook) can carry them. A market order the
chain cannot fill is rejected with the reason; a limit order works until a chain fills it, a DAY
one through the next chain after it was placed.
"""

import math
from collections import defaultdict
from datetime import datetime
from typing import Literal

from execution.core.costs import CommissionModel, SlippageModel
from execution.core.option_book import OptionBook
from execution.core.option_fills import NoFill, OptionCommission, fill_option_order
from execution.core.portfolio import Portfolio
from marketdata.core.errors import InvalidInput
from strategies.core.option_chain import ChainSnapshot
from strategies.core.options import OptionFill, OptionOrder
from strategies.core.types import Fill, Order, OrderStatus, OrderType, PriceBar, Side, TimeInForce


class SimulatedBroker:
    def __init__(
        self,
        portfolio: Portfolio,
        *,
        commission: CommissionModel,
        slippage: SlippageModel,
        fill_timing: Literal["close", "next_open"] = "close",
        max_participation: float | None = None,
        option_commission: OptionCommission | None = None,
    ) -> None:
        self.portfolio = portfolio
        self.commission = commission
        self.slippage = slippage
        self.fill_timing = fill_timing
        self.max_participation = max_participation
        self.option_commission = option_commission or OptionCommission()
        self.working: dict[str, list[Order]] = defaultdict(list)
        self.working_options: list[tuple[OptionOrder, datetime]] = []  # and the chain time it was placed at
        self.rejected: list[tuple[Order | OptionOrder, str]] = []

    # --- the engine's calls --------------------------------------------------------------------

    def submit(self, order: Order, bar: PriceBar) -> list[Fill]:
        """Accept an order at the close of bar; a market order fills now under "close" timing."""
        order.status = OrderStatus.ACCEPTED
        order.created_bar = bar.index
        fill = None
        if isinstance(self.portfolio, OptionBook) and (refusal := self.portfolio.refusal(order)):
            self._reject(order, refusal)
            return []
        if self.fill_timing == "close" and order.order_type is OrderType.MARKET:
            fill = self._fill(order, bar, bar.close, slip=True)
        if not order.status.terminal:
            self.working[order.symbol].append(order)
        return [fill] if fill else []

    def on_bar_open(self, bar: PriceBar) -> list[Fill]:
        """Fill what the bar's prices reach: market orders at the open (next_open timing), limits and
        stops within the bar's range."""
        orders = self.working.get(bar.symbol)
        if not orders:
            return []
        fills = []
        for order in list(orders):
            if order.order_type is OrderType.MARKET:
                if self.fill_timing == "close":
                    continue  # the remainder of a capped order fills at this bar's close
                price, slip = bar.open, True
            else:
                price, slip = self._triggered_price(order, bar)
            if price is not None:
                fill = self._fill(order, bar, price, slip=slip)
                if fill:
                    fills.append(fill)
            if order.status.terminal:
                orders.remove(order)
        return fills

    def on_bar_close(self, bar: PriceBar) -> list[Fill]:
        """Under "close" timing, the rest of capped market orders fills at later closes."""
        if self.fill_timing != "close":
            return []
        fills = []
        orders = self.working.get(bar.symbol, [])
        for order in list(orders):
            if order.order_type is OrderType.MARKET and order.created_bar < bar.index:
                fill = self._fill(order, bar, bar.close, slip=True)
                if fill:
                    fills.append(fill)
                if order.status.terminal:
                    orders.remove(order)
        return fills

    def end_of_session(self, bar_index: dict[str, int]) -> None:
        """A session closed (bar_index: each symbol's last bar). DAY orders expire once they have
        been working through a session: an order placed at a session's last bar (after the close)
        lives through the next one."""
        for symbol, orders in self.working.items():
            last = bar_index.get(symbol, -1)
            for order in [o for o in orders if o.tif is TimeInForce.DAY and o.created_bar < last]:
                order.status = OrderStatus.EXPIRED
                orders.remove(order)

    def cancel_all(self) -> list[Order | OptionOrder]:
        canceled = [o for orders in self.working.values() for o in orders]
        canceled += [order for order, _ in self.working_options]
        for order in canceled:
            order.status = OrderStatus.CANCELED
        self.working.clear()
        self.working_options.clear()
        return canceled

    # --- option orders ---------------------------------------------------------------------------

    def submit_option(self, order: OptionOrder, chain: ChainSnapshot) -> OptionFill | None:
        """Accept an option order against the chain of its underlying now: it fills at the touch,
        or works (a limit the touch does not reach), or is rejected with the reason."""
        if not isinstance(self.portfolio, OptionBook):
            raise InvalidInput("option orders need a broker whose portfolio is an OptionBook")
        order.status = OrderStatus.ACCEPTED
        fill = self._fill_option(order, chain)
        if not order.status.terminal:
            self.working_options.append((order, chain.ts))
        return fill

    def on_chain(self, chain: ChainSnapshot) -> list[OptionFill]:
        """A new chain of an underlying: its working option orders try it; a DAY order placed at an
        earlier chain expires when this one does not fill it."""
        fills = []
        for entry in list(self.working_options):
            order, placed = entry
            if order.underlying != chain.underlying:
                continue
            fill = self._fill_option(order, chain)
            if fill is not None:
                fills.append(fill)
            elif order.tif is TimeInForce.DAY and placed < chain.ts and not order.status.terminal:
                order.status = OrderStatus.EXPIRED
            if order.status.terminal:
                self.working_options.remove(entry)
        return fills

    def _fill_option(self, order: OptionOrder, chain: ChainSnapshot) -> OptionFill | None:
        fill = fill_option_order(order, chain, self.option_commission)
        if isinstance(fill, NoFill):
            if order.order_type is OrderType.MARKET:
                self._reject(order, fill.reason)
            return None  # a limit works on
        refusal = self.portfolio.refusal(order, fill)
        if refusal:
            self._reject(order, refusal)
            return None
        self.portfolio.apply_option_fill(order, fill, chain)
        order.filled_qty += fill.qty
        order.avg_fill_price = fill.net_price
        order.status = OrderStatus.FILLED
        return fill

    # --- pricing and fills ---------------------------------------------------------------------

    @staticmethod
    def _triggered_price(order: Order, bar: PriceBar) -> tuple[float | None, bool]:
        buy = order.side is Side.BUY
        if order.order_type in {OrderType.STOP, OrderType.STOP_LIMIT} and not order.triggered:
            stop = order.stop_price
            if (bar.high >= stop) if buy else (bar.low <= stop):
                order.triggered = True
                if order.order_type is OrderType.STOP:
                    return (max(bar.open, stop) if buy else min(bar.open, stop)), True
            else:
                return None, False
        elif order.order_type is OrderType.STOP:
            return bar.open, True
        limit = order.limit_price
        if (bar.low <= limit) if buy else (bar.high >= limit):
            return (min(bar.open, limit) if buy else max(bar.open, limit)), False
        return None, False

    def _fill(self, order: Order, bar: PriceBar, price: float, *, slip: bool) -> Fill | None:
        sign = order.side.sign
        first = order.filled_qty == 0
        expected = self.slippage.fill_price(price, sign) if slip else price
        qty = self._quantity(order, expected, first)
        if qty is None:
            return None
        if self.max_participation is not None:
            cap = self.max_participation * bar.volume
            qty = min(qty, math.floor(cap) if order.whole_shares else cap)
            if qty <= 0:
                return None  # nothing tradable in this bar; try the next
        if slip and self.slippage.impact_bps:
            fill_price = self.slippage.fill_price(price, sign, qty, bar.volume)
        else:
            fill_price = expected
        commission = self.commission.cost(qty, fill_price, first_fill=first)
        fill = Fill(
            order.id,
            order.symbol,
            order.side,
            qty,
            fill_price,
            commission,
            bar.ts,
            bar.index,
            slippage=abs(fill_price - price) * qty,
        )
        self.portfolio.apply_fill(fill)
        order.avg_fill_price = (order.avg_fill_price * order.filled_qty + fill_price * qty) / (
            order.filled_qty + qty
        )
        order.filled_qty += qty
        order.status = OrderStatus.FILLED if order.remaining <= 1e-9 else OrderStatus.PARTIALLY_FILLED
        return fill

    def _quantity(self, order: Order, price: float, first: bool) -> float | None:
        """The quantity to fill now; resolves notional and equity-fraction sizes at the first fill."""
        if order.qty is None:
            order.qty = resolved_qty(order, price, self.portfolio.buying_power(), self.commission, first)
            if order.qty <= 0:
                return self._reject(order, "not enough buying power for one unit")
        if order.reduce_only:
            held = self.portfolio.position(order.symbol)
            if held == 0 or (held > 0) == (order.side is Side.BUY):
                return self._reject(order, "reduce-only order with nothing to reduce")
            order.qty = min(order.qty, order.filled_qty + abs(held))
        return order.remaining

    def _reject(self, order: Order | OptionOrder, reason: str) -> None:
        order.status = OrderStatus.REJECTED
        self.rejected.append((order, reason))


def resolved_qty(
    order: Order, price: float, buying_power: float, commission: CommissionModel, first_fill: bool = True
) -> float:
    """The quantity a notional or equity-fraction order comes to at price: the notional's worth, or
    what the fraction of the buying power affords after commission (whole shares when the order
    says so; 0 when not one is affordable)."""
    if order.notional is not None:
        qty = order.notional / price
        return math.floor(qty + 1e-9) if order.whole_shares else qty
    budget = order.equity_fraction * buying_power
    return commission.affordable_qty(budget, price, whole=order.whole_shares, first_fill=first_fill)
