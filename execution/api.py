"""Execution API: positions (with their marks), orders and fills, placing an order by hand (of shares
or options), and closing a position."""

from datetime import datetime
from decimal import Decimal

from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from execution.choices import OrderTypeChoices, SideChoices, TimeInForceChoices, TradingMode
from execution.core.brokers.base import LegRequest
from execution.filters import FillFilter, OrderFilter, PositionFilter
from execution.manual_order_services import manual_order_place, manual_order_spec
from execution.models import Fill, Order, OrderLeg, Position
from execution.position_services import position_close
from execution.selectors import fill_list, order_list, position_get, position_list
from quantsite.read_cache import ReadCachedView
from quantsite.schema import error
from quantsite.viewsets import SelectorViewSet
from strategies.core.types import OrderType, Side, TimeInForce
from strategies.selectors import strategy_version_get

# Money from marks: decimal strings as the model's money fields give them, to 9 places.
DECIMAL = {"type": "string", "format": "decimal", "nullable": True}
NINE = Decimal("1e-9")


def _decimal(value: Decimal) -> str:
    return str(value.quantize(NINE))


class StrategyVersionField(serializers.CharField):
    """A version as people name it: "momentum_v1 v2"."""

    def __init__(self, source: str = "strategy_version", **kwargs) -> None:
        super().__init__(source=source, read_only=True, help_text='the version\'s name: "name vN"', **kwargs)

    def to_representation(self, version) -> str:
        return f"{version.name} v{version.version}"


class PositionSerializer(serializers.ModelSerializer):
    strategy = StrategyVersionField()
    side = serializers.SerializerMethodField(help_text="long, short or flat")
    mark = serializers.SerializerMethodField(help_text="the latest stored close, in the version's timeframe")
    mark_ts = serializers.SerializerMethodField(help_text="the time of that bar")
    market_value = serializers.SerializerMethodField(help_text="qty x mark (negative when short)")
    unrealized_pnl = serializers.SerializerMethodField(help_text="(mark - avg_price) x qty")
    close_requested_by = serializers.CharField(
        source="close_requested_by.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Position
        fields = [
            "id",
            "strategy_version",
            "strategy",
            "mode",
            "symbol",
            "side",
            "qty",
            "avg_price",
            "mark",
            "mark_ts",
            "market_value",
            "unrealized_pnl",
            "realized_pnl",
            "close_requested_at",
            "close_requested_by",
            "updated_at",
        ]
        read_only_fields = fields

    def get_side(self, position: Position) -> str:
        return "long" if position.qty > 0 else "short" if position.qty < 0 else "flat"

    @extend_schema_field(DECIMAL)
    def get_mark(self, position: Position) -> str | None:
        return None if position.mark is None else _decimal(position.mark)

    def get_mark_ts(self, position: Position) -> datetime | None:
        return position.mark_ts

    @extend_schema_field(DECIMAL)
    def get_market_value(self, position: Position) -> str | None:
        return None if position.mark is None else _decimal(position.qty * position.mark)

    @extend_schema_field(DECIMAL)
    def get_unrealized_pnl(self, position: Position) -> str | None:
        return (
            None if position.mark is None else _decimal((position.mark - position.avg_price) * position.qty)
        )


class OrderLegSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLeg
        fields = ["index", "symbol", "side", "ratio", "filled_qty", "avg_fill_price"]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    strategy = StrategyVersionField()
    legs = OrderLegSerializer(
        many=True, read_only=True, help_text="An option order's legs (an order of shares has none)."
    )

    class Meta:
        model = Order
        fields = [
            "id",
            "client_order_id",
            "strategy_version",
            "strategy",
            "mode",
            "broker",
            "asset_class",
            "symbol",
            "side",
            "qty",
            "multiplier",
            "reduce_only",
            "legs",
            "order_type",
            "limit_price",
            "stop_price",
            "tif",
            "status",
            "broker_status",
            "broker_order_id",
            "filled_qty",
            "avg_fill_price",
            "signal",
            "attempt",
            "reason",
            "status_reason",
            "created_at",
            "submitted_at",
            "updated_at",
        ]
        read_only_fields = fields


class FillSerializer(serializers.ModelSerializer):
    client_order_id = serializers.CharField(source="order.client_order_id", read_only=True)
    strategy_version = serializers.IntegerField(source="order.strategy_version_id", read_only=True)
    strategy = StrategyVersionField(source="order.strategy_version")
    mode = serializers.CharField(source="order.mode", read_only=True)
    symbol = serializers.CharField(
        source="traded_symbol", read_only=True, help_text="the order's, or the option contract of its leg"
    )
    side = serializers.CharField(source="traded_side", read_only=True)
    leg = serializers.IntegerField(
        source="leg.index", read_only=True, allow_null=True, default=None, help_text="an option order's leg"
    )

    class Meta:
        model = Fill
        fields = [
            "id",
            "order",
            "client_order_id",
            "strategy_version",
            "strategy",
            "mode",
            "symbol",
            "side",
            "leg",
            "execution_id",
            "qty",
            "price",
            "notional",
            "commission",
            "ts",
        ]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(
        summary="Positions per strategy version and mode, open ones unless include_flat",
        description="Each with its mark (the latest stored close of its symbol in its version's timeframe), "
        "market value and unrealized P&L.",
    ),
    retrieve=extend_schema(summary="A position"),
)
class PositionViewSet(ReadCachedView, SelectorViewSet):
    serializer_class = PositionSerializer
    filterset_class = PositionFilter
    ordering_fields = ["symbol", "qty", "realized_pnl", "updated_at", "id"]
    ordering = ["strategy_version_id", "mode", "symbol", "id"]

    rows, noun = staticmethod(position_list), "position"


class PositionCloseOutputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=["sent", "requested"],
        help_text="sent: the order went to the broker; requested: the paper session sends it at its next bar",
    )
    position = PositionSerializer()
    order = OrderSerializer(allow_null=True, help_text="the closing order, when sent")


class PositionCloseApi(APIView):
    """Close a position: its symbol's working orders cancelled, then a reduce-only market order for
    all of it, checked by the version's risk manager, through the OMS (at once for a real broker; at
    the next bar of the paper session)."""

    @extend_schema(
        summary="Close a position (operator)",
        description=(
            "The version's orders still working on the symbol are cancelled, then a reduce-only market "
            "order for the whole quantity is sent, checked by the version's risk manager "
            "(its policy and the trading states: refused while HALTED, where the kill switch's flatten "
            "is the way out) and sent through the OMS. Through Alpaca or IB it is sent at once; the paper "
            "broker's session sends it at its next bar. 409 when the position is flat, a close is "
            "already under way, or the risk manager refuses (details.reasons)."
        ),
        request=None,
        responses={
            200: PositionCloseOutputSerializer,
            409: error("flat, already closing, or refused by the risk manager"),
            503: error("the position's broker is not configured or cannot be reached"),
        },
    )
    def post(self, request: Request, pk) -> Response:
        position = position_get(position_id=pk)
        self.check_object_permissions(request, position)
        closed = position_close(position=position, by=request.user)
        body = PositionCloseOutputSerializer(
            {"outcome": closed.outcome, "position": position_get(position_id=pk), "order": closed.order},
            context={"request": request},
        ).data
        return Response(body, status=status.HTTP_200_OK)


class LegInputSerializer(serializers.Serializer):
    symbol = serializers.CharField(max_length=32, help_text='an OCC symbol, e.g. "AAA250221C00095000"')
    side = serializers.ChoiceField(choices=SideChoices.choices)
    ratio = serializers.IntegerField(min_value=1, max_value=1000, default=1, help_text="contracts per unit")


class OrderPlaceInputSerializer(serializers.Serializer):
    strategy_version = serializers.IntegerField(min_value=1, help_text="the id of the version it trades for")
    mode = serializers.ChoiceField(choices=TradingMode.choices, default=TradingMode.PAPER)
    symbol = serializers.CharField(
        max_length=32, required=False, help_text="shares: the symbol (an option order names legs)"
    )
    side = serializers.ChoiceField(choices=SideChoices.choices, required=False, help_text="shares")
    legs = LegInputSerializer(
        many=True, required=False, help_text="an option order: 1 to 4 legs on one underlying, filled as one"
    )
    qty = serializers.DecimalField(
        max_digits=24, decimal_places=9, help_text="shares, or an option order's units (whole)"
    )
    order_type = serializers.ChoiceField(choices=OrderTypeChoices.choices, default=OrderType.MARKET.value)
    limit_price = serializers.DecimalField(
        max_digits=24,
        decimal_places=9,
        required=False,
        allow_null=True,
        default=None,
        help_text="limit orders: an option order's is the net per unit per share, a debit positive, "
        "a credit negative",
    )
    stop_price = serializers.DecimalField(
        max_digits=24, decimal_places=9, required=False, allow_null=True, default=None, help_text="shares"
    )
    tif = serializers.ChoiceField(choices=TimeInForceChoices.choices, default=TimeInForce.DAY.value)
    reduce_only = serializers.BooleanField(
        default=False, help_text="an option order that only closes contracts held"
    )
    key = serializers.CharField(
        min_length=1,
        max_length=40,
        required=False,
        help_text="an idempotency key: the same key answers the order placed with it, never a second one",
    )


class OrderPlaceOutputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=["sent", "requested"],
        help_text="sent: the order went to the broker; requested: the paper session sends it at its next bar",
    )
    order = OrderSerializer()


@extend_schema_view(
    list=extend_schema(summary="Orders, newest first"),
    retrieve=extend_schema(summary="An order"),
)
class OrderViewSet(SelectorViewSet):
    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    ordering_fields = ["created_at", "updated_at", "symbol", "status", "id"]
    ordering = ["-created_at", "-id"]

    rows, noun = staticmethod(order_list), "order"

    @extend_schema(
        summary="Place an order by hand (operator): of shares or of options",
        description=(
            "An order of shares (symbol, side) or an option order (legs: 1 to 4 OCC symbols on one "
            "underlying, each with its side and ratio; qty whole units; market or limit at a net price "
            "per unit per share, a debit positive, a credit negative; reduce_only to only close contracts "
            "held). Checked as every order is: the version may trade in its mode (stage, enabled, not "
            "HALTED; live: LIVE_TRADING_ENABLED and a real broker), then its risk manager (an option "
            "order measured on the latest chain of its underlying) must approve it, else 409 with its "
            "reasons (details.reasons), in the audit trail. Through Alpaca or IB it is sent at once; the "
            "paper broker's session sends it at its next bar, checked again. The same key never places "
            "twice."
        ),
        request=OrderPlaceInputSerializer,
        responses={
            201: OrderPlaceOutputSerializer,
            403: error("the caller's role, or the version may not trade in that mode"),
            404: error("no such strategy version"),
            409: error("refused by the risk manager, or the version has no account in that mode"),
            503: error("the account's broker is not configured or cannot be reached"),
        },
    )
    def create(self, request: Request) -> Response:
        data = OrderPlaceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        legs = given.get("legs")
        spec = manual_order_spec(
            symbol=given.get("symbol"),
            side=Side(given["side"]) if "side" in given else None,
            legs=None
            if legs is None
            else [LegRequest(g["symbol"], Side(g["side"]), g["ratio"]) for g in legs],
            qty=given["qty"],
            order_type=OrderType(given["order_type"]),
            limit_price=given["limit_price"],
            stop_price=given["stop_price"],
            tif=TimeInForce(given["tif"]),
            reduce_only=given["reduce_only"],
            reason="placed by hand",
        )
        version = strategy_version_get(version_id=given["strategy_version"])
        placed = manual_order_place(
            version=version, mode=given["mode"], spec=spec, by=request.user, key=given.get("key", "")
        )
        body = OrderPlaceOutputSerializer(
            {"outcome": placed.outcome, "order": placed.order}, context={"request": request}
        ).data
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="Fills, newest first"),
    retrieve=extend_schema(summary="A fill"),
)
class FillViewSet(SelectorViewSet):
    serializer_class = FillSerializer
    filterset_class = FillFilter
    ordering_fields = ["ts", "qty", "price", "id"]
    ordering = ["-ts", "-id"]

    rows, noun = staticmethod(fill_list), "fill"
