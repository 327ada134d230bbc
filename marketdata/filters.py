"""FilterSets shared by the API lists and the console pages."""

import django_filters

from marketdata.choices import TimeframeChoices
from marketdata.models import Instrument, PriceBar
from marketdata.selectors import instrument_get
from quantsite.filters import UtcDateTimeFilter


class InstrumentFilter(django_filters.FilterSet):
    symbol = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Instrument
        fields = ["symbol", "asset_class", "exchange", "active"]


class BarFilter(django_filters.FilterSet):
    symbol = django_filters.CharFilter(method="filter_symbol", required=True)
    timeframe = django_filters.ChoiceFilter(choices=TimeframeChoices.choices, required=True)
    start = UtcDateTimeFilter(field_name="ts", lookup_expr="gte")
    end = UtcDateTimeFilter(field_name="ts", lookup_expr="lte")

    class Meta:
        model = PriceBar
        fields = ["symbol", "timeframe", "start", "end"]

    def filter_symbol(self, queryset, name, value):
        return queryset.filter(instrument=instrument_get(symbol=value))
