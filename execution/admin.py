from django.contrib import admin

from execution.models import Fill, Order, Position, TradingAccount, TradingSessionRecord
from quantsite.admin import ReadOnlyAdmin


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = (
        "client_order_id",
        "strategy_version",
        "mode",
        "broker",
        "symbol",
        "side",
        "qty",
        "status",
    )
    list_filter = ("mode", "broker", "status")
    search_fields = ("client_order_id", "broker_order_id", "symbol")


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = ("order", "execution_id", "qty", "price", "commission", "ts")


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = ("strategy_version", "mode", "symbol", "qty", "avg_price", "realized_pnl")


@admin.register(TradingAccount)
class TradingAccountAdmin(ReadOnlyAdmin):
    list_display = ("strategy_version", "mode", "broker", "initial_capital", "cash", "commission_paid")


@admin.register(TradingSessionRecord)
class TradingSessionAdmin(ReadOnlyAdmin):
    list_display = ("strategy_version", "mode", "broker", "status", "host", "steps", "started_at", "beat_at")
    list_filter = ("mode", "broker", "status")
