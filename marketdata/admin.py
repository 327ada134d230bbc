from django.contrib import admin

from marketdata.models import IngestionRun, Instrument, OptionContract, PriceBar, QualityReport
from quantsite.admin import ReadOnlyAdmin


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ["symbol", "name", "asset_class", "exchange", "currency", "active"]
    list_filter = ["asset_class", "exchange", "active"]
    search_fields = ["symbol", "name"]


@admin.register(OptionContract)
class OptionContractAdmin(ReadOnlyAdmin):
    list_display = ["instrument", "underlying", "expiry", "strike", "right", "multiplier"]
    list_filter = ["right", "expiry"]
    search_fields = ["instrument__symbol", "underlying__symbol"]
    date_hierarchy = "expiry"
    list_select_related = ["instrument", "underlying"]


@admin.register(PriceBar)
class PriceBarAdmin(ReadOnlyAdmin):
    list_display = ["instrument", "timeframe", "ts", "open", "high", "low", "close", "volume", "source"]
    list_filter = ["timeframe", "source", ("instrument", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["instrument__symbol"]
    date_hierarchy = "ts"
    list_select_related = ["instrument"]
    show_full_result_count = False


@admin.register(IngestionRun)
class IngestionRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "provider",
        "timeframe",
        "status",
        "rows_inserted",
        "rows_updated",
        "rows_rejected",
        "duration_seconds",
        "created_at",
    ]
    list_filter = ["status", "provider", "timeframe"]


@admin.register(QualityReport)
class QualityReportAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "instrument",
        "timeframe",
        "rows_checked",
        "rows_rejected",
        "ok",
        "run",
        "created_at",
    ]
    list_filter = ["timeframe"]
    search_fields = ["instrument__symbol"]
    list_select_related = ["instrument", "run"]

    @admin.display(boolean=True)
    def ok(self, obj: QualityReport) -> bool:
        return obj.ok
