"""Market data API: instruments and bars (read-only)."""

from rest_framework import generics, serializers, viewsets
from rest_framework.pagination import CursorPagination

from marketdata.filters import BarFilter, InstrumentFilter
from marketdata.models import Instrument, PriceBar


class InstrumentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Instrument
        fields = ["id", "symbol", "name", "asset_class", "exchange", "currency", "active"]


class InstrumentViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Instrument.objects.all()
    serializer_class = InstrumentSerializer
    filterset_class = InstrumentFilter
    lookup_field = "symbol"
    ordering_fields = ["symbol", "created_at"]


class BarSerializer(serializers.ModelSerializer):
    class Meta:
        model = PriceBar
        fields = ["ts", "open", "high", "low", "close", "volume", "source"]


class BarPagination(CursorPagination):
    ordering = "ts"
    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 5000


class BarListApi(generics.ListAPIView):
    """Bars of one symbol and timeframe, oldest first; `start`/`end` are ISO 8601 times."""

    queryset = PriceBar.objects.all()
    serializer_class = BarSerializer
    filterset_class = BarFilter
    pagination_class = BarPagination
    ordering_fields = []
