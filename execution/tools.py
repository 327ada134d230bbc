"""The execution agent's tools: place an order (paper, unless an admin granted the caller live rights),
follow it, read the positions, reconcile with a broker. Through the same services and serializers as
the positions and orders API."""

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.memory import remember
from agents.registry import tool
from agents.services import live_trading_require
from execution.api import OrderSerializer, PositionSerializer
from execution.brokers import broker_client_build
from execution.choices import TradingMode
from execution.core.brokers.base import LegRequest
from execution.filters import PositionFilter
from execution.manual_order_services import manual_order_place, manual_order_spec
from execution.reconciliation_services import reconcile
from execution.selectors import order_list, position_list
from execution.services import Spec
from marketdata.core.errors import InvalidInput, NotFound
from marketdata.tools import Symbol
from quantsite.db import row_get
from quantsite.roles import OPERATOR, VIEWER
from strategies.core.types import OrderType, Side, TimeInForce
from strategies.selectors import strategy_version_get

Mode = Literal["paper", "live"]
Price = Annotated[Decimal | None, Field(max_digits=24, decimal_places=9)]


class LegInput(BaseModel):
    """A leg of an option order."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(min_length=1, max_length=32, description='an OCC symbol, e.g. "AAA250221C00095000"')
    side: Side
    ratio: int = Field(1, ge=1, description="contracts per unit")


class OrderInput(BaseModel):
    """An order of a strategy version, as a person would place it: of shares (symbol, side) or of
    options (legs)."""

    model_config = ConfigDict(extra="forbid")

    strategy_version: int = Field(ge=1, description="the id of the strategy version it trades for")
    symbol: Symbol | None = Field(None, description="shares: the symbol (an option order names legs)")
    side: Side | None = Field(None, description="shares: buy or sell")
    legs: list[LegInput] | None = Field(
        None, description="an option order: 1 to 4 legs on one underlying, filled as one"
    )
    qty: Decimal = Field(
        gt=0, max_digits=24, decimal_places=9, description="shares, or an option order's units"
    )
    order_type: OrderType = OrderType.MARKET
    limit_price: Price = Field(
        None,
        description="limit and stop_limit orders only; an option order's is the net per unit per share, "
        "a debit positive, a credit negative",
    )
    stop_price: Price = Field(None, description="stop and stop_limit orders of shares only")
    tif: TimeInForce = TimeInForce.DAY
    reduce_only: bool = Field(False, description="an option order that only closes contracts held")
    mode: Mode = Field("paper", description="live needs live rights (agents.trade_live)")

    def spec(self, reason: str) -> Spec:
        return manual_order_spec(
            symbol=self.symbol,
            side=self.side,
            legs=None
            if self.legs is None
            else [LegRequest(leg.symbol, leg.side, leg.ratio) for leg in self.legs],
            qty=self.qty,
            order_type=self.order_type,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            tif=self.tif,
            reduce_only=self.reduce_only,
            reason=reason,
        )


@tool(agent="execution", role=OPERATOR)
def place_order(
    actor,
    order: OrderInput,
    key: Annotated[
        str | None,
        Field(min_length=1, max_length=40, description="an idempotency key: the same key never places twice"),
    ] = None,
) -> dict:
    """Place an order for a strategy version, checked as any order is: the version's stage must allow
    its mode (paper needs an approved paper stage, live an approved live stage), it must be enabled and
    not HALTED, live needs LIVE_TRADING_ENABLED and live rights for the caller; then its risk manager
    (its policy, the trading states, its account) must approve it (else 409 with its reasons). Through
    Alpaca or IB it is sent at once (outcome "sent"); on the simulated paper broker the running session
    sends it at its next bar (outcome "requested"). Answers the order."""
    if order.mode == TradingMode.LIVE:
        live_trading_require(actor)
    version = strategy_version_get(version_id=order.strategy_version)
    placed = manual_order_place(
        version=version, mode=order.mode, spec=order.spec("agent order"), by=actor, key=key or ""
    )
    body = {"outcome": placed.outcome, "order": OrderSerializer(placed.order).data}
    remember(
        "execution",
        "last_order",
        {
            "order": placed.order.pk,
            "client_order_id": placed.order.client_order_id,
            "outcome": placed.outcome,
        },
    )
    return body


@tool(agent="execution", role=VIEWER)
def check_order_status(
    actor,
    order_id: Annotated[int | None, Field(ge=1)] = None,
    client_order_id: Annotated[str | None, Field(min_length=1, max_length=64)] = None,
) -> dict:
    """An order's status and fills so far, by its id or its client order id (one of them), as the
    orders API shows it."""
    if (order_id is None) == (client_order_id is None):
        raise InvalidInput("give either order_id or client_order_id")
    if order_id is not None:
        found = row_get(order_list(), order_id, "order")
    else:
        found = order_list().filter(client_order_id=client_order_id).first()
        if found is None:
            raise NotFound(f"no order with client order id {client_order_id!r}")
    return OrderSerializer(found).data


@tool(agent="execution", role=VIEWER)
def get_positions(
    actor,
    strategy_version: Annotated[int | None, Field(ge=1)] = None,
    mode: Mode | None = None,
    symbol: Symbol | None = None,
    include_flat: bool = False,
) -> dict:
    """The positions (open ones unless include_flat), as GET /api/v1/positions/ shows them: each
    marked at its symbol's latest stored close, with its market value and unrealized P&L."""
    given = {
        "strategy_version": strategy_version,
        "mode": mode,
        "symbol": symbol,
        "include_flat": include_flat,
    }
    filtered = PositionFilter({k: v for k, v in given.items() if v is not None}, queryset=position_list())
    if not filtered.is_valid():
        raise InvalidInput(f"invalid position filter: {filtered.errors.as_text()}")
    rows = filtered.qs.order_by("strategy_version_id", "mode", "symbol", "id")
    return {"count": len(rows), "positions": PositionSerializer(rows, many=True).data}


@tool(agent="execution", role=OPERATOR)
def reconcile_positions(actor, broker: Literal["alpaca", "ib"], mode: Mode = "paper") -> dict:
    """Reconcile the OMS with a broker, as the schedule does every few minutes: its open orders looked
    up and settled, then each symbol's position summed over the strategy versions trading through it
    against the broker's. A mismatch, or a broker that cannot answer, HALTS those versions and raises
    an alert (fail closed). Answers what was found."""
    report = reconcile(
        broker=broker, mode=mode, client=broker_client_build(broker=broker, mode=mode, capital=0.0)
    )
    return {
        "broker": report.broker,
        "mode": report.mode,
        "clean": report.clean,
        "orders_checked": report.orders_checked,
        "orders_settled": report.orders_settled,
        "mismatches": report.mismatches,
        "failure": report.failure,
        "halted": report.halted,
    }
