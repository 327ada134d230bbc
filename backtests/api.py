"""Backtest runs API: list, detail, start one (POST), and its HTML report."""

import dataclasses

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from backtests.choices import RunStatus
from backtests.core.results import BacktestConfig, PerformanceMetrics
from backtests.filters import BacktestRunFilter
from backtests.models import BacktestRun
from backtests.selectors import backtest_report_get, backtest_run_get, backtest_run_list
from backtests.services import (
    COST_FIELDS,
    FILL_TIMINGS,
    backtest_run_create,
    backtest_run_enqueue,
    strategy_config_from_dict,
)
from marketdata.choices import TimeframeChoices
from marketdata.core.bars import Timeframe
from marketdata.core.calendar import day_range

DEFAULTS = BacktestConfig()
# The BacktestConfig fields a request gives as they are (dates and timeframe are converted).
SIMULATION_FIELDS = ("initial_capital", *COST_FIELDS, "max_participation", "fill_timing", "risk_free_rate")


class ErrorSerializer(serializers.Serializer):
    """The shape of every error answer (quantsite.errors)."""

    error = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


def _metric_field(field: dataclasses.Field) -> serializers.Field:
    if field.type is int:
        return serializers.IntegerField()
    return serializers.FloatField(allow_null=field.type is not float)


# Built from the core's dataclass, so the documented metrics never drift from what a run stores.
PerformanceMetricsSerializer = type(
    "PerformanceMetricsSerializer",
    (serializers.Serializer,),
    {f.name: _metric_field(f) for f in dataclasses.fields(PerformanceMetrics)},
)


class TradeSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    direction = serializers.ChoiceField(choices=["long", "short"])
    quantity = serializers.FloatField()
    entry_time = serializers.DateTimeField()
    entry_price = serializers.FloatField()
    exit_time = serializers.DateTimeField()
    exit_price = serializers.FloatField()
    pnl = serializers.FloatField(
        help_text="(exit - entry) x quantity (mirrored for shorts), less commissions"
    )
    commission = serializers.FloatField()
    return_pct = serializers.FloatField(help_text="exit / entry - 1, in percent (mirrored for shorts)")
    bars_held = serializers.IntegerField()


class EquityPointSerializer(serializers.Serializer):
    ts = serializers.DateTimeField()
    equity = serializers.FloatField(allow_null=True)
    cash = serializers.FloatField(allow_null=True)
    exposure = serializers.FloatField(allow_null=True, help_text="gross position value / equity")


class BacktestRunSerializer(serializers.ModelSerializer):
    symbols = serializers.ListField(child=serializers.CharField(), read_only=True)
    metrics = PerformanceMetricsSerializer(read_only=True, allow_null=True, help_text="null until done")
    requested_by = serializers.CharField(
        source="requested_by.username", read_only=True, allow_null=True, help_text="who started it"
    )
    report_url = serializers.SerializerMethodField(help_text="the HTML report, once done")

    class Meta:
        model = BacktestRun
        fields = [
            "id",
            "strategy",
            "symbols",
            "timeframe",
            "start",
            "end",
            "source",
            "status",
            "error",
            "metrics",
            "report_url",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
        ]
        read_only_fields = fields

    def get_report_url(self, run: BacktestRun) -> str | None:
        if run.status != RunStatus.DONE:
            return None
        url = reverse("backtest-run-report", args=[run.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class BacktestRunDetailSerializer(BacktestRunSerializer):
    trades = TradeSerializer(many=True, read_only=True)
    equity_curve = EquityPointSerializer(
        many=True, read_only=True, help_text=BacktestRun._meta.get_field("equity_curve").help_text
    )

    class Meta(BacktestRunSerializer.Meta):
        fields = [*BacktestRunSerializer.Meta.fields, "config", "csv_path", "trades", "equity_curve"]
        read_only_fields = fields


def _money(default, **kwargs) -> serializers.DecimalField:
    # decimal_places=None: the amount is kept as given ("1.50" stays "1.50"), never quantized.
    return serializers.DecimalField(max_digits=20, decimal_places=None, default=default, **kwargs)


class BacktestRunInputSerializer(serializers.Serializer):
    strategy = serializers.CharField(max_length=64, help_text="momentum, mean_reversion, buy_and_hold, ...")
    name = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    symbols = serializers.ListField(child=serializers.CharField(max_length=32), min_length=1, max_length=100)
    timeframe = serializers.ChoiceField(choices=TimeframeChoices.choices, default=Timeframe.D1.value)
    start = serializers.DateField(required=False, allow_null=True, default=None, help_text="first day, UTC")
    end = serializers.DateField(required=False, allow_null=True, default=None, help_text="last day, UTC")
    parameters = serializers.DictField(required=False, default=dict, help_text="the strategy's parameters")
    sizing = serializers.DictField(
        required=False, default=dict, help_text="mode, value, whole_shares, atr_period, atr_multiple"
    )
    risk = serializers.DictField(required=False, default=dict, help_text="allow_short, max_position_pct")
    initial_capital = _money(DEFAULTS.initial_capital, min_value=0)
    commission_per_trade = _money(DEFAULTS.commission_per_trade, min_value=0)
    commission_per_share = _money(DEFAULTS.commission_per_share, min_value=0)
    commission_minimum = _money(DEFAULTS.commission_minimum, min_value=0)
    commission_bps = _money(DEFAULTS.commission_bps, min_value=0)
    slippage_bps = _money(DEFAULTS.slippage_bps, min_value=0)
    volume_impact_bps = _money(DEFAULTS.volume_impact_bps, min_value=0)
    max_participation = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=0, max_value=1
    )
    fill_timing = serializers.ChoiceField(choices=FILL_TIMINGS, default=DEFAULTS.fill_timing)
    risk_free_rate = serializers.FloatField(required=False, default=DEFAULTS.risk_free_rate)


@extend_schema_view(
    list=extend_schema(summary="Backtest runs, newest first"),
    retrieve=extend_schema(
        summary="A backtest run with its metrics, trades and equity curve",
        responses={200: BacktestRunDetailSerializer, 404: ErrorSerializer},
    ),
)
class BacktestRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    filterset_class = BacktestRunFilter
    lookup_value_regex = r"\d+"
    ordering_fields = ["created_at", "finished_at"]

    def get_queryset(self):
        return backtest_run_list()

    def get_serializer_class(self):
        return BacktestRunSerializer if self.action == "list" else BacktestRunDetailSerializer

    def get_object(self) -> BacktestRun:
        run = backtest_run_get(run_id=self.kwargs["pk"])
        self.check_object_permissions(self.request, run)
        return run

    @extend_schema(
        summary="Start a backtest",
        description=(
            "Validates the request (strategy, parameters, costs, symbols, stored bars in range), "
            "creates the run and queues it on the backtests queue. Answers 202 with the run; "
            "poll its detail until the status is done or failed."
        ),
        request=BacktestRunInputSerializer,
        responses={202: BacktestRunDetailSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def create(self, request):
        data = BacktestRunInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        strategy_config = strategy_config_from_dict(
            {
                "strategy": v["strategy"],
                "name": v["name"],
                "universe": v["symbols"],
                "timeframe": v["timeframe"],
                "parameters": v["parameters"],
                "sizing": v["sizing"],
                "risk": v["risk"],
            }
        )
        start, end = day_range(v["start"], v["end"])
        backtest_config = BacktestConfig(
            **{name: v[name] for name in SIMULATION_FIELDS},
            start_date=start,
            end_date=end,
            timeframe=Timeframe(v["timeframe"]),
        )
        run = backtest_run_create(
            strategy_config=strategy_config, backtest_config=backtest_config, requested_by=request.user
        )
        backtest_run_enqueue(run=run)
        run.refresh_from_db()  # with eager tasks (no broker) it has run already
        body = BacktestRunDetailSerializer(run, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="The HTML report of a finished backtest run",
        responses={
            (200, "text/html"): OpenApiResponse(OpenApiTypes.STR, description="a self-contained HTML page"),
            404: ErrorSerializer,
        },
    )
    @action(detail=True, methods=["get"], url_path="report", url_name="report")
    def report(self, request, pk=None):
        path = backtest_report_get(run=self.get_object())
        return FileResponse(path.open("rb"), content_type="text/html; charset=utf-8")
