from django.contrib import admin

from execution.models import Fill, Order, Position, TradingAccount


class ReadOnly(admin.ModelAdmin):
    """Orders, fills, positions and cash move through the OMS alone."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(ReadOnly):
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
class FillAdmin(ReadOnly):
    list_display = ("order", "execution_id", "qty", "price", "commission", "ts")


@admin.register(Position)
class PositionAdmin(ReadOnly):
    list_display = ("strategy_version", "mode", "symbol", "qty", "avg_price", "realized_pnl")


@admin.register(TradingAccount)
class TradingAccountAdmin(ReadOnly):
    list_display = ("strategy_version", "mode", "broker", "initial_capital", "cash", "commission_paid")
