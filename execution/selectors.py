"""Reads of execution: positions, orders and fills, each with what its lists show beside it."""

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce

from execution.models import Fill, Order, OrderLeg, Position, TradingSessionRecord
from marketdata.models import PriceBar
from quantsite.db import row_get
from strategies.models import StrategyVersion


def position_list() -> QuerySet[Position]:
    """Positions with their version and, in the same query, their mark: the latest stored close of
    the symbol in the version's timeframe (`mark`, `mark_ts`; None without a bar), read through the
    bars' (instrument, timeframe, ts) index."""
    latest = PriceBar.objects.filter(
        instrument__symbol=OuterRef("symbol"), timeframe=OuterRef("mark_timeframe")
    ).order_by("-ts")
    return (
        Position.objects.select_related("strategy_version", "close_requested_by")
        .annotate(mark_timeframe=KeyTextTransform("timeframe", "strategy_version__config"))
        .annotate(mark=Subquery(latest.values("close")[:1]), mark_ts=Subquery(latest.values("ts")[:1]))
    )


def order_list() -> QuerySet[Order]:
    """Orders with their version and an option order's legs (one query for all the legs)."""
    return Order.objects.select_related("strategy_version").prefetch_related(
        Prefetch("legs", queryset=OrderLeg.objects.order_by("index"))
    )


def fill_list() -> QuerySet[Fill]:
    """Fills with their order and what they traded (`traded_symbol`, `traded_side`): the order's
    symbol and side, or for an option order's fill its leg's."""
    return Fill.objects.select_related("order", "order__strategy_version").annotate(
        traded_symbol=Coalesce("leg__symbol", "order__symbol"),
        traded_side=Coalesce("leg__side", "order__side"),
    )


def position_get(*, position_id) -> Position:
    return row_get(position_list(), position_id, "position")


def trading_session_latest_get(*, version: StrategyVersion) -> TradingSessionRecord | None:
    """The version's latest trading session (running, or how the last one ended)."""
    sessions = TradingSessionRecord.objects.filter(strategy_version=version)
    return sessions.order_by("-started_at", "-id").first()
