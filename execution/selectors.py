"""Reads of execution: positions, orders and fills, each with what its lists show beside it."""

from django.db.models import QuerySet

from execution.models import Fill, Order, Position, TradingSessionRecord
from quantsite.db import row_get
from strategies.models import StrategyVersion


def position_list() -> QuerySet[Position]:
    return Position.objects.select_related("strategy_version", "close_requested_by")


def order_list() -> QuerySet[Order]:
    return Order.objects.select_related("strategy_version")


def fill_list() -> QuerySet[Fill]:
    return Fill.objects.select_related("order", "order__strategy_version")


def position_get(*, position_id) -> Position:
    return row_get(position_list(), position_id, "position")


def trading_session_latest_get(*, version: StrategyVersion) -> TradingSessionRecord | None:
    """The version's latest trading session (running, or how the last one ended)."""
    sessions = TradingSessionRecord.objects.filter(strategy_version=version)
    return sessions.order_by("-started_at", "-id").first()
