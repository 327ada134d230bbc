from django.contrib import admin

from execution.models import Fill, Order, OrderLeg, Position, TradingAccount, TradingSessionRecord
from quantsite.admin import ReadOnlyAdmin


class OrderLegInline(admin.TabularInline):
    model = OrderLeg
    fields = ("index", "symbol", "side", "ratio", "filled_qty", "avg_fill_price")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = (
        "client_order_id",
        "strategy_version",
        "mode",
        "broker",
        "asset_class",
        "symbol",
        "side",
        "qty",
        "status",
    )
    list_filter = ("mode", "broker", "asset_class", "status")
    search_fields = ("client_order_id", "broker_order_id", "symbol", "legs__symbol")
    inlines = [OrderLegInline]


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = ("order", "leg", "execution_id", "qty", "price", "commission", "ts")


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
