"""Monitoring API: alerts (list, acknowledge, resolve), metric snapshots and their summary, system
snapshots, daily summaries, health; and the Prometheus exposition (/metrics). Reading needs a
viewer; acknowledging and resolving an operator."""

from collections.abc import Callable

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from backtests.api import ErrorSerializer
from monitoring.choices import HealthStatus
from monitoring.filters import AlertFilter, DailySummaryFilter, MetricSnapshotFilter, SystemSnapshotFilter
from monitoring.models import Alert, AlertDelivery, DailySummary, MetricSnapshot, SystemSnapshot
from monitoring.prometheus import metrics_exposition
from monitoring.selectors import (
    alert_list,
    daily_summary_list,
    health_get,
    metric_snapshot_list,
    metrics_summary_get,
    system_snapshot_list,
)
from monitoring.services import alert_acknowledge, alert_resolve
from quantsite.permissions import OperatorWrites, ViewerReads
from quantsite.read_cache import ReadCachedView

READ_ERRORS = {401: ErrorSerializer, 403: ErrorSerializer}
DETAIL_ERRORS = {**READ_ERRORS, 404: ErrorSerializer}
# A filter value that is not valid (400), a page past the last (404).
LIST_ERRORS = {**READ_ERRORS, 400: ErrorSerializer, 404: ErrorSerializer}


class Pagination(PageNumberPagination):
    """Pages of 100; a page number given twice is refused (which one was meant?)."""

    def paginate_queryset(self, queryset, request, view=None):
        if len(request.query_params.getlist(self.page_query_param)) > 1:
            raise ValidationError({self.page_query_param: ["is given once at most"]})
        return super().paginate_queryset(queryset, request, view)


def _read_schema(serializer, *, listed: str, description: str, one: str):
    """The OpenAPI of a read viewset: its paginated list and its detail, with their errors."""
    return extend_schema_view(
        list=extend_schema(
            summary=listed, description=description, responses={200: serializer(many=True), **LIST_ERRORS}
        ),
        retrieve=extend_schema(summary=one, responses={200: serializer, **DETAIL_ERRORS}),
    )


class _ReadViewSet(viewsets.ReadOnlyModelViewSet):
    """A viewer's list and detail of monitoring rows."""

    permission_classes = [ViewerReads]
    pagination_class = Pagination
    # Any text up to the next slash reaches the view: an id that is not one is a 404 in the error
    # shape (JSON), not the router's HTML page.
    lookup_value_regex = "[^/]+"


def _money(help_text: str = "") -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=36, decimal_places=2, read_only=True, help_text=help_text)


# --- alerts ------------------------------------------------------------------------------------------


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertDelivery
        fields = ["channel", "ok", "error", "attempted_at"]


class AlertSerializer(serializers.ModelSerializer):
    acknowledged_by = serializers.CharField(
        source="acknowledged_by.username", read_only=True, allow_null=True, default=None
    )
    resolved_by = serializers.CharField(
        source="resolved_by.username", read_only=True, allow_null=True, default=None
    )
    deliveries = DeliverySerializer(many=True, read_only=True, help_text="each attempt to send it")

    class Meta:
        model = Alert
        fields = [
            "id",
            "severity",
            "source",
            "key",
            "message",
            "context",
            "occurrences",
            "created_at",
            "last_seen_at",
            "acknowledged_by",
            "acknowledged_at",
            "resolved",
            "resolved_by",
            "resolved_at",
            "deliveries",
        ]


@_read_schema(
    AlertSerializer,
    listed="Alerts, newest first",
    description="Filter by severity (repeatable), source, resolved, acknowledged, created_after, "
    "created_before; order by created_at, last_seen_at, severity or occurrences.",
    one="An alert with its delivery attempts",
)
class AlertViewSet(_ReadViewSet):
    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    ordering_fields = ["created_at", "last_seen_at", "severity", "occurrences"]

    def get_queryset(self):
        return alert_list()


class _AlertActionApi(APIView):
    permission_classes = [OperatorWrites]
    act: Callable[..., Alert]  # the service

    def post(self, request, pk: str):
        alert = get_object_or_404(Alert, pk=pk)
        self.act(alert=alert, by=request.user)
        return Response(AlertSerializer(alert_list().get(pk=alert.pk)).data)


class AlertAcknowledgeApi(_AlertActionApi):
    act = staticmethod(alert_acknowledge)

    @extend_schema(
        summary="Acknowledge an alert (operator)",
        description="Someone is looking at it. 409 when it was acknowledged already.",
        request=None,
        responses={200: AlertSerializer, **DETAIL_ERRORS, 409: ErrorSerializer},
    )
    def post(self, request, pk: str):
        return super().post(request, pk)


class AlertResolveApi(_AlertActionApi):
    act = staticmethod(alert_resolve)

    @extend_schema(
        summary="Resolve an alert (operator)",
        description="It is over: the next alert of its source and key is a new one. 409 when it was "
        "resolved already.",
        request=None,
        responses={200: AlertSerializer, **DETAIL_ERRORS, 409: ErrorSerializer},
    )
    def post(self, request, pk: str):
        return super().post(request, pk)


# --- metric snapshots ------------------------------------------------------------------------------------


class MetricSnapshotSerializer(serializers.ModelSerializer):
    initial_capital = _money()
    cash = _money()
    equity = _money("cash + positions marked at the latest closes")
    pnl_day = _money("equity - equity at the previous close (New York day)")
    pnl_total = _money("equity - initial capital")
    gross_exposure = _money("sum of |position value|")
    net_exposure = _money("sum of signed position value")
    peak_equity = _money("the highest equity seen (initial capital included)")
    unmarked = serializers.ListField(
        child=serializers.CharField(), help_text="symbols held without a stored close: marked at their cost"
    )

    class Meta:
        model = MetricSnapshot
        fields = [
            "id",
            "taken_at",
            "scope",
            "mode",
            "strategy_version",
            "label",
            "initial_capital",
            "cash",
            "equity",
            "pnl_day",
            "pnl_total",
            "gross_exposure",
            "net_exposure",
            "exposure_pct",
            "positions",
            "peak_equity",
            "drawdown_pct",
            "max_drawdown_pct",
            "sharpe",
            "sortino",
            "trades",
            "win_rate",
            "fills_day",
            "turnover",
            "unmarked",
        ]


@_read_schema(
    MetricSnapshotSerializer,
    listed="Metric snapshots, newest first",
    description="Per strategy version (scope strategy) and per mode's accounts together (scope "
    "account). Filter by scope, mode, strategy_version, taken_after, taken_before.",
    one="A metric snapshot",
)
class MetricSnapshotViewSet(_ReadViewSet):
    serializer_class = MetricSnapshotSerializer
    filterset_class = MetricSnapshotFilter
    ordering_fields = ["taken_at", "equity", "pnl_day", "pnl_total"]

    def get_queryset(self):
        return metric_snapshot_list()


class ProbeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=HealthStatus.choices)
    detail = serializers.CharField()
    latency_ms = serializers.FloatField(allow_null=True)
    error_rate = serializers.FloatField(
        allow_null=True, help_text="failed probes over the last hour (null: not configured)"
    )


class StalenessSerializer(serializers.Serializer):
    last_success = serializers.DateTimeField(allow_null=True, help_text="its last successful ingestion")
    age_seconds = serializers.FloatField(allow_null=True)
    last_status = serializers.CharField(help_text="its latest ingestion's status")


class WorkerSeenSerializer(serializers.Serializer):
    last_seen_at = serializers.DateTimeField()
    age_seconds = serializers.FloatField()


class HealthCheckSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=HealthStatus.choices)
    detail = serializers.CharField()


class SystemSnapshotSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=HealthStatus.choices, help_text="the health verdict")
    health = serializers.DictField(child=HealthCheckSerializer(), help_text="each health check")
    data_staleness = serializers.DictField(child=StalenessSerializer(), help_text="per market-data provider")
    brokers = serializers.DictField(child=ProbeSerializer(), help_text='per "broker:mode"')
    queues = serializers.DictField(child=serializers.IntegerField(), help_text="messages waiting per queue")
    workers = serializers.DictField(child=WorkerSeenSerializer(), help_text="per Celery worker")

    class Meta:
        model = SystemSnapshot
        fields = [
            "id",
            "taken_at",
            "status",
            "health",
            "data_staleness",
            "stale_symbols",
            "brokers",
            "queues",
            "workers",
            "task_failures",
        ]


@_read_schema(
    SystemSnapshotSerializer,
    listed="System snapshots, newest first",
    description="Filter by status, taken_after, taken_before.",
    one="A system snapshot",
)
class SystemSnapshotViewSet(_ReadViewSet):
    serializer_class = SystemSnapshotSerializer
    filterset_class = SystemSnapshotFilter
    ordering_fields = ["taken_at"]

    def get_queryset(self):
        return system_snapshot_list()


class OpenAlertsSerializer(serializers.Serializer):
    critical = serializers.IntegerField()
    warning = serializers.IntegerField()
    info = serializers.IntegerField()


class MetricsSummarySerializer(serializers.Serializer):
    accounts = MetricSnapshotSerializer(many=True, help_text="the latest snapshot of each mode's accounts")
    strategies = MetricSnapshotSerializer(many=True, help_text="the latest snapshot of each strategy version")
    system = SystemSnapshotSerializer(allow_null=True, help_text="the latest system snapshot")
    open_alerts = OpenAlertsSerializer(help_text="alerts not resolved, by severity")


class MetricsSummaryApi(ReadCachedView, APIView):
    permission_classes = [ViewerReads]

    @extend_schema(
        summary="The latest figures: each account, each strategy version, the system, open alerts",
        responses={200: MetricsSummarySerializer, **READ_ERRORS},
    )
    def get(self, request):
        return Response(MetricsSummarySerializer(metrics_summary_get()).data)


# --- daily summaries -------------------------------------------------------------------------------------


class ModeTotalsSerializer(serializers.Serializer):
    pnl = serializers.DecimalField(max_digits=36, decimal_places=2, help_text="the day's P&L")
    pnl_total = serializers.DecimalField(max_digits=36, decimal_places=2)
    equity = serializers.DecimalField(max_digits=36, decimal_places=2)
    trades = serializers.IntegerField(help_text="fills")
    notional = serializers.DecimalField(max_digits=36, decimal_places=2, help_text="traded")


class StrategyDaySerializer(ModeTotalsSerializer):
    strategy_version = serializers.IntegerField()
    label = serializers.CharField()
    mode = serializers.CharField()
    alerts = serializers.IntegerField()
    risk_events = serializers.IntegerField()


class AlertCountsSerializer(serializers.Serializer):
    raised = serializers.IntegerField()
    by_severity = serializers.DictField(child=serializers.IntegerField())
    by_source = serializers.DictField(child=serializers.IntegerField())
    open = serializers.IntegerField()


class RiskEventsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_action = serializers.DictField(child=serializers.IntegerField())


class DailySummarySerializer(serializers.ModelSerializer):
    totals = serializers.DictField(child=ModeTotalsSerializer(), help_text="per mode")
    strategies = StrategyDaySerializer(many=True)
    alerts = AlertCountsSerializer()
    risk_events = RiskEventsSerializer()
    deliveries = DeliverySerializer(many=True, read_only=True)

    class Meta:
        model = DailySummary
        fields = ["day", "created_at", "totals", "strategies", "alerts", "risk_events", "text", "deliveries"]


@_read_schema(
    DailySummarySerializer,
    listed="Daily summaries, newest first",
    description="Filter by day_from, day_to (New York days).",
    one="The summary of a day (YYYY-MM-DD)",
)
class DailySummaryViewSet(_ReadViewSet):
    serializer_class = DailySummarySerializer
    filterset_class = DailySummaryFilter
    ordering_fields = ["day"]
    lookup_field = "day"
    lookup_value_regex = "[^/]*"  # an empty day too: a 404 in the error shape

    def get_queryset(self):
        return daily_summary_list()


# --- health, Prometheus -----------------------------------------------------------------------------------


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=HealthStatus.choices)
    checked_at = serializers.DateTimeField()
    checks = serializers.DictField(
        child=HealthCheckSerializer(),
        help_text="database, redis, celery (workers), beat, brokers, data_freshness; each may add details",
    )


class HealthApi(APIView):
    permission_classes = [ViewerReads]

    @extend_schema(
        summary="Each dependency's health, and the verdict (503 when one is down)",
        responses={200: HealthSerializer, 503: HealthSerializer, **READ_ERRORS},
    )
    def get(self, request):
        report = health_get(now=timezone.now())
        return Response(report, status=503 if report["status"] == "down" else 200)


class PrometheusMetricsApi(APIView):
    """Prometheus scrapes it with a viewer's token (`authorization: {credentials: ...}` in its job)."""

    permission_classes = [ViewerReads]

    @extend_schema(
        summary="Prometheus metrics (text exposition format)",
        description="Gauges of the latest metric and system snapshots, the health checks and the open "
        "alerts.",
        responses={
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="Prometheus text format"),
            **READ_ERRORS,
        },
    )
    def get(self, request):
        body, content_type = metrics_exposition(now=timezone.now())
        return HttpResponse(body, content_type=content_type)
