"""FilterSets shared by the API lists and the console pages."""

import django_filters

from execution.choices import BrokerName, OrderStatusChoices, SideChoices, TradingMode
from execution.models import OPEN_STATUSES, Fill, Order, Position
from quantsite.filters import IdFilter, UtcDateTimeFilter


class PositionFilter(django_filters.FilterSet):
    """Open positions unless include_flat is true."""

    strategy_version = IdFilter(field_name="strategy_version_id")
    mode = django_filters.ChoiceFilter(choices=TradingMode.choices)
    symbol = django_filters.CharFilter(lookup_expr="iexact")
    side = django_filters.ChoiceFilter(choices=[("long", "long"), ("short", "short")], method="filter_side")
    include_flat = django_filters.BooleanFilter(method="filter_include_flat", label="include flat positions")

    class Meta:
        model = Position
        fields = ["strategy_version", "mode", "symbol", "side", "include_flat"]

    def filter_side(self, queryset, name, value):
        return queryset.filter(qty__gt=0) if value == "long" else queryset.filter(qty__lt=0)

    def filter_include_flat(self, queryset, name, value):
        return queryset  # filter_queryset applies it, given or not

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        return queryset if self.form.cleaned_data.get("include_flat") else queryset.exclude(qty=0)


class OrderFilter(django_filters.FilterSet):
    strategy_version = IdFilter(field_name="strategy_version_id")
    mode = django_filters.ChoiceFilter(choices=TradingMode.choices)
    broker = django_filters.ChoiceFilter(choices=BrokerName.choices)
    symbol = django_filters.CharFilter(lookup_expr="iexact")
    side = django_filters.ChoiceFilter(choices=SideChoices.choices)
    status = django_filters.MultipleChoiceFilter(choices=OrderStatusChoices.choices)
    open = django_filters.BooleanFilter(method="filter_open", label="still working (not in a final state)")
    client_order_id = django_filters.CharFilter()
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = [
            "strategy_version",
            "mode",
            "broker",
            "symbol",
            "side",
            "status",
            "open",
            "client_order_id",
            "created_after",
            "created_before",
        ]

    def filter_open(self, queryset, name, value):
        working = {"status__in": OPEN_STATUSES}
        return queryset.filter(**working) if value else queryset.exclude(**working)


class FillFilter(django_filters.FilterSet):
    order = IdFilter(field_name="order_id")
    strategy_version = IdFilter(field_name="order__strategy_version_id")
    mode = django_filters.ChoiceFilter(field_name="order__mode", choices=TradingMode.choices)
    symbol = django_filters.CharFilter(field_name="traded_symbol", lookup_expr="iexact")
    side = django_filters.ChoiceFilter(field_name="traded_side", choices=SideChoices.choices)
    after = UtcDateTimeFilter(field_name="ts", lookup_expr="gte")
    before = UtcDateTimeFilter(field_name="ts", lookup_expr="lt")

    class Meta:
        model = Fill
        fields = ["order", "strategy_version", "mode", "symbol", "side", "after", "before"]
