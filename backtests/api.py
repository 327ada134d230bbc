"""Runs API: backtests and walk-forwards listed together, each kind's detail and HTML report, and
starting either (POST /runs/ with its kind)."""

import dataclasses
from collections.abc import Callable
from typing import Any

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response
from rest_framework.views import APIView

from backtests.choices import RunKind, RunStatus
from backtests.core.options_engine import OptionsConfig
from backtests.core.results import BacktestConfig, PerformanceMetrics
from backtests.core.walkforward import WalkForwardConfig, WindowType
from backtests.filters import BacktestRunFilter, WalkForwardRunFilter
from backtests.models import BacktestRun, WalkForwardRun
from backtests.selectors import (
    backtest_run_get,
    backtest_run_list,
    run_kinds_list,
    run_report_get,
    walk_forward_progress,
    walk_forward_run_get,
    walk_forward_run_list,
)
from backtests.services import (
    COST_FIELDS,
    FILL_TIMINGS,
    backtest_run_create,
    backtest_run_enqueue,
    strategy_config_from_dict,
    version_backtest_create,
)
from backtests.walkforward_services import (
    OBJECTIVES,
    objective_parse,
    walk_forward_run_create,
    walk_forward_run_enqueue,
)
from marketdata.choices import TimeframeChoices
from marketdata.core.bars import Timeframe
from marketdata.core.calendar import day_range
from marketdata.core.providers.synthetic_chains import DEFAULT_SEED
from quantsite.schema import ErrorSerializer
from strategies.selectors import strategy_version_get

DEFAULTS = BacktestConfig()
OPTIONS_DEFAULTS = OptionsConfig()
# The BacktestConfig fields a request gives as they are (dates and timeframe are converted).
SIMULATION_FIELDS = ("initial_capital", *COST_FIELDS, "max_participation", "fill_timing", "risk_free_rate")


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


class OptionLegSerializer(serializers.Serializer):
    symbol = serializers.CharField(help_text="OCC symbol")
    side = serializers.CharField(help_text="buy or sell")
    ratio = serializers.IntegerField(help_text="contracts per unit")
    contracts = serializers.IntegerField(help_text="held, negative short")
    entry_price = serializers.FloatField(help_text="per share")
    exit_price = serializers.FloatField(help_text="per share; at expiry its settlement value")
    pnl = serializers.FloatField(help_text="before commissions")


class GreeksSerializer(serializers.Serializer):
    delta = serializers.FloatField(allow_null=True, help_text="the value of the shares it moves like")
    vega = serializers.FloatField(allow_null=True, help_text="per volatility point")
    theta = serializers.FloatField(allow_null=True, help_text="per calendar day")


class OptionTradeSerializer(serializers.Serializer):
    underlying = serializers.CharField()
    order_id = serializers.CharField(help_text="the order that opened it")
    units = serializers.IntegerField()
    legs = OptionLegSerializer(many=True)
    entry_time = serializers.DateTimeField()
    exit_time = serializers.DateTimeField()
    entry_price = serializers.FloatField(help_text="net per unit per share; a credit is negative")
    exit_price = serializers.FloatField(help_text="net per unit per share of the same legs at exit")
    entry_greeks = GreeksSerializer(help_text="of the position at entry, in money")
    commission = serializers.FloatField()
    pnl = serializers.FloatField(help_text="after commissions")
    exit_reason = serializers.CharField()


class EquityPointSerializer(serializers.Serializer):
    ts = serializers.DateTimeField()
    equity = serializers.FloatField(allow_null=True)
    cash = serializers.FloatField(allow_null=True)
    exposure = serializers.FloatField(allow_null=True, help_text="gross position value / equity")


def _absolute(serializer: serializers.Serializer, url: str) -> str:
    request = serializer.context.get("request")
    return request.build_absolute_uri(url) if request else url


class RecordedRunSerializer(serializers.ModelSerializer):
    """What a run of either kind shows in a list: its kind, its links, what it ran on and when;
    each kind puts its own figures between HEAD and TAIL."""

    HEAD = [
        "id",
        "kind",
        "url",
        "strategy",
        "symbols",
        "timeframe",
        "start",
        "end",
        "source",
        "status",
        "error",
    ]
    TAIL = ["report_url", "requested_by", "created_at", "started_at", "finished_at", "duration_seconds"]
    kind_value: RunKind
    route: str  # the URL names' prefix: "<route>-detail", "<route>-report"

    kind = serializers.SerializerMethodField(help_text="backtest or walk_forward")
    url = serializers.SerializerMethodField(help_text="this run's detail")
    symbols = serializers.ListField(child=serializers.CharField(), read_only=True)
    requested_by = serializers.CharField(
        source="requested_by.username", read_only=True, allow_null=True, help_text="who started it"
    )
    report_url = serializers.SerializerMethodField(help_text="the HTML report, once done")

    def get_kind(self, run) -> str:
        return self.kind_value.value

    def get_url(self, run) -> str:
        return _absolute(self, reverse(f"{self.route}-detail", args=[run.pk]))

    def get_report_url(self, run) -> str | None:
        if run.status != RunStatus.DONE:
            return None
        return _absolute(self, reverse(f"{self.route}-report", args=[run.pk]))


class BacktestRunSerializer(RecordedRunSerializer):
    kind_value, route = RunKind.BACKTEST, "backtest-run"
    metrics = PerformanceMetricsSerializer(read_only=True, allow_null=True, help_text="null until done")

    class Meta:
        model = BacktestRun
        fields = [*RecordedRunSerializer.HEAD, "metrics", *RecordedRunSerializer.TAIL]
        read_only_fields = fields


class BacktestRunDetailSerializer(BacktestRunSerializer):
    trades = TradeSerializer(many=True, read_only=True)
    option_trades = OptionTradeSerializer(
        many=True, read_only=True, help_text="an options backtest's spreads (empty for shares)"
    )
    equity_curve = EquityPointSerializer(
        many=True, read_only=True, help_text=BacktestRun._meta.get_field("equity_curve").help_text
    )

    class Meta(BacktestRunSerializer.Meta):
        fields = [
            *BacktestRunSerializer.Meta.fields,
            "config",
            "csv_path",
            "trades",
            "option_trades",
            "equity_curve",
        ]
        read_only_fields = fields


def _money(default, **kwargs) -> serializers.DecimalField:
    # decimal_places=None: the amount is kept as given ("1.50" stays "1.50"), never quantized.
    return serializers.DecimalField(max_digits=20, decimal_places=None, default=default, **kwargs)


class WalkForwardProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(help_text="jobs done: their trials are stored")
    total = serializers.IntegerField(help_text="jobs in the plan (0 until the run is planned)")


class WalkForwardRunSerializer(RecordedRunSerializer):
    kind_value, route = RunKind.WALK_FORWARD, "walk-forward-run"
    progress = serializers.SerializerMethodField()

    class Meta:
        model = WalkForwardRun
        fields = [
            *RecordedRunSerializer.HEAD,
            "progress",
            "trials_count",
            "total_return_pct",
            "sharpe_ratio",
            "efficiency",
            "dsr_probability",
            "pbo",
            *RecordedRunSerializer.TAIL,
        ]
        read_only_fields = fields

    @extend_schema_field(WalkForwardProgressSerializer)
    def get_progress(self, run: WalkForwardRun) -> dict[str, int]:
        return walk_forward_progress(run=run)


class WalkForwardRunDetailSerializer(WalkForwardRunSerializer):
    result = serializers.JSONField(
        read_only=True,
        help_text=(
            "null until done; then config, windows (spans, chosen parameters, in- and out-of-sample "
            "metrics, efficiency, note), aggregated_metrics (the stitched out-of-sample run), "
            "efficiency, parameter_stability, deflated_sharpe, overfitting (pbo, splits, partitions, "
            "probability_of_loss), trials (a count), notes, equity_curve and trades"
        ),
    )

    class Meta(WalkForwardRunSerializer.Meta):
        fields = [
            *WalkForwardRunSerializer.Meta.fields,
            "strategy_config",
            "walk_forward_config",
            "backtest_config",
            "csv_path",
            "chunk_size",
            "result",
        ]
        read_only_fields = fields


class SimulationInputSerializer(serializers.Serializer):
    """The span and the simulation of a backtest: what a strategy version's backtest is given."""

    start = serializers.DateField(required=False, allow_null=True, default=None, help_text="first day, UTC")
    end = serializers.DateField(required=False, allow_null=True, default=None, help_text="last day, UTC")
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


class OptionsInputSerializer(serializers.Serializer):
    """How an option strategy's backtest trades options (OptionsConfig), and its chains' seed."""

    chain_seed = serializers.IntegerField(
        default=DEFAULT_SEED, help_text="seed of the synthetic chains priced from the bars"
    )
    settlement = serializers.ChoiceField(
        choices=["cash", "assign"],
        default=OPTIONS_DEFAULTS.settlement,
        help_text="of options in the money at expiry",
    )
    marks = serializers.ChoiceField(
        choices=["quote", "model"], default=OPTIONS_DEFAULTS.marks, help_text="the mid, or the model's price"
    )
    commission_per_contract = _money(OPTIONS_DEFAULTS.commission_per_contract, min_value=0)


class BacktestRunInputSerializer(SimulationInputSerializer):
    kind = serializers.ChoiceField(choices=RunKind.choices, default=RunKind.BACKTEST.value)
    strategy = serializers.CharField(
        max_length=64,
        help_text="momentum, mean_reversion, buy_and_hold, ml_classifier; covered_call, bull_put_spread, "
        "iron_condor (options), ...",
    )
    name = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    symbols = serializers.ListField(child=serializers.CharField(max_length=32), min_length=1, max_length=100)
    timeframe = serializers.ChoiceField(choices=TimeframeChoices.choices, default=Timeframe.D1.value)
    parameters = serializers.DictField(required=False, default=dict, help_text="the strategy's parameters")
    sizing = serializers.DictField(
        required=False, default=dict, help_text="mode, value, whole_shares, atr_period, atr_multiple"
    )
    risk = serializers.DictField(required=False, default=dict, help_text="allow_short, max_position_pct")
    options = OptionsInputSerializer(
        required=False, help_text="an option strategy's chains and options settings (default: all defaults)"
    )


class WalkForwardRunInputSerializer(BacktestRunInputSerializer):
    options = None  # walk-forwards run share strategies
    in_sample_days = serializers.IntegerField(min_value=1, help_text="sessions to choose the parameters on")
    out_of_sample_days = serializers.IntegerField(min_value=1, help_text="sessions to trade them on")
    step_days = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, default=None, help_text="default: out_of_sample_days"
    )
    window_type = serializers.ChoiceField(
        choices=[w.value for w in WindowType], default=WindowType.ROLLING.value
    )
    grid = serializers.DictField(
        child=serializers.ListField(min_length=1),
        required=False,
        default=dict,
        help_text='the values to try per parameter, {"fast": [5, 10], "slow": [20, 40]}; none: the '
        "strategy's own parameters are validated out of sample",
    )
    objective = serializers.ChoiceField(choices=list(OBJECTIVES), default="sharpe")
    min_trades = serializers.IntegerField(
        min_value=0, default=1, help_text="in-sample trades a set needs to be chosen"
    )
    carry_positions = serializers.BooleanField(
        default=False, help_text="hand open positions on to the next window (default: close them)"
    )


class RunKindSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=RunKind.choices, default=RunKind.BACKTEST.value)


def strategy_config_of(v: dict):
    return strategy_config_from_dict(
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


def backtest_config_of(v: dict) -> BacktestConfig:
    start, end = day_range(v["start"], v["end"])
    return BacktestConfig(
        **{name: v[name] for name in SIMULATION_FIELDS},
        start_date=start,
        end_date=end,
        timeframe=Timeframe(v["timeframe"]),
    )


RUN_INPUT = PolymorphicProxySerializer(
    component_name="RunInput",
    serializers={
        RunKind.BACKTEST.value: BacktestRunInputSerializer,
        RunKind.WALK_FORWARD.value: WalkForwardRunInputSerializer,
    },
    resource_type_field_name="kind",
)
RUN_STARTED = PolymorphicProxySerializer(
    component_name="RunStarted",
    serializers={
        RunKind.BACKTEST.value: BacktestRunDetailSerializer,
        RunKind.WALK_FORWARD.value: WalkForwardRunDetailSerializer,
    },
    resource_type_field_name="kind",
)
RUN_LIST = PolymorphicProxySerializer(
    component_name="Run",
    serializers={
        RunKind.BACKTEST.value: BacktestRunSerializer,
        RunKind.WALK_FORWARD.value: WalkForwardRunSerializer,
    },
    resource_type_field_name="kind",
    many=True,
)


class RecordedRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Reads of one kind of recorded run (numeric ids, newest first) and its HTML report."""

    lookup_value_regex = r"\d+"
    ordering_fields = ["created_at", "finished_at"]
    ordering = ["-created_at", "-id"]
    list_serializer: type[serializers.Serializer]
    detail_serializer: type[serializers.Serializer]
    run_get: Callable[..., Any]  # run_get(run_id=...) -> the run, or NotFound

    def get_serializer_class(self):
        return self.list_serializer if self.action == "list" else self.detail_serializer

    def get_object(self):
        run = self.run_get(run_id=self.kwargs["pk"])
        self.check_object_permissions(self.request, run)
        return run

    @extend_schema(
        summary="The HTML report of a finished run",
        responses={
            (200, "text/html"): OpenApiResponse(OpenApiTypes.STR, description="a self-contained HTML page"),
            404: ErrorSerializer,
        },
    )
    @action(detail=True, methods=["get"], url_path="report", url_name="report")
    def report(self, request, pk=None):
        return FileResponse(run_report_get(run=self.get_object()), content_type="text/html; charset=utf-8")


@extend_schema_view(
    list=extend_schema(
        summary="Runs of both kinds (backtests and walk-forwards), newest first",
        description="Each run has its kind and the url of its detail (a walk-forward's is under "
        "/api/v1/walkforwards/). Filter by status, strategy and kind.",
        responses=RUN_LIST,
    ),
    retrieve=extend_schema(
        summary="A backtest run with its metrics, trades and equity curve",
        responses={200: BacktestRunDetailSerializer, 404: ErrorSerializer},
    ),
)
class BacktestRunViewSet(RecordedRunViewSet):
    filterset_class = BacktestRunFilter
    list_serializer, detail_serializer = BacktestRunSerializer, BacktestRunDetailSerializer
    run_get = staticmethod(backtest_run_get)

    def get_queryset(self):
        return backtest_run_list()

    def list(self, request):
        params = request.query_params
        backtests, walk_forwards = (
            _filtered(BacktestRunFilter(params, queryset=backtest_run_list())),
            _filtered(WalkForwardRunFilter(params, queryset=walk_forward_run_list())),
        )
        ordering = list(OrderingFilter().get_ordering(request, backtests, self))
        ordering += [] if "-id" in ordering else ["-id"]
        page = self.paginate_queryset(
            run_kinds_list(backtests=backtests, walk_forwards=walk_forwards, ordering=ordering)
        )
        ids = {kind: [pk for k, pk, *_ in page if k == kind] for kind in RunKind.values}
        runs = {
            RunKind.BACKTEST: backtests.in_bulk(ids[RunKind.BACKTEST]),
            RunKind.WALK_FORWARD: walk_forwards.in_bulk(ids[RunKind.WALK_FORWARD]),
        }
        context = self.get_serializer_context()
        serializers_ = {
            RunKind.BACKTEST: BacktestRunSerializer,
            RunKind.WALK_FORWARD: WalkForwardRunSerializer,
        }
        body = [serializers_[kind](runs[kind][pk], context=context).data for kind, pk, *_ in page]
        return self.get_paginated_response(body)

    @extend_schema(
        summary="Start a backtest or a walk-forward",
        description=(
            "kind backtest (the default) or walk_forward. Validates the request (strategy, "
            "parameters, the walk-forward's windows and grid, costs, symbols, stored bars in range), "
            "creates the run and queues it on the backtests queue (a walk-forward fans its jobs out "
            "to the workers). Answers 202 with the run; poll its url until the status is done or "
            "failed."
        ),
        request=RUN_INPUT,
        responses={202: RUN_STARTED, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def create(self, request):
        kind = RunKindSerializer(data=request.data)
        kind.is_valid(raise_exception=True)
        if kind.validated_data["kind"] == RunKind.WALK_FORWARD:
            return self._walk_forward_create(request)
        data = BacktestRunInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        options, chain_seed = None, DEFAULT_SEED
        if "options" in v:
            options = OptionsConfig(**{k: value for k, value in v["options"].items() if k != "chain_seed"})
            chain_seed = v["options"]["chain_seed"]
        run = backtest_run_create(
            strategy_config=strategy_config_of(v),
            backtest_config=backtest_config_of(v),
            requested_by=request.user,
            options=options,
            chain_seed=chain_seed,
        )
        backtest_run_enqueue(run=run)
        run.refresh_from_db()  # with eager tasks (no broker) it has run already
        body = BacktestRunDetailSerializer(run, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED)

    def _walk_forward_create(self, request):
        data = WalkForwardRunInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        walk_forward_config = WalkForwardConfig(
            in_sample_days=v["in_sample_days"],
            out_of_sample_days=v["out_of_sample_days"],
            step_days=v["step_days"] or v["out_of_sample_days"],
            window_type=v["window_type"],
            parameter_grid=v["grid"],
            objective=objective_parse(v["objective"]),
            min_trades_required=v["min_trades"],
            carry_positions=v["carry_positions"],
        )
        run = walk_forward_run_create(
            strategy_config=strategy_config_of(v),
            walk_forward_config=walk_forward_config,
            backtest_config=backtest_config_of(v),
            requested_by=request.user,
        )
        walk_forward_run_enqueue(run=run)
        run.refresh_from_db()  # with eager tasks (no broker) it has run already
        body = WalkForwardRunDetailSerializer(run, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


def _filtered(filterset):
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs


@extend_schema_view(
    list=extend_schema(summary="Walk-forward runs, newest first"),
    retrieve=extend_schema(
        summary="A walk-forward run with its progress and, once done, its result document",
        responses={200: WalkForwardRunDetailSerializer, 404: ErrorSerializer},
    ),
)
class WalkForwardRunViewSet(RecordedRunViewSet):
    """Walk-forwards are started with POST /api/v1/runs/ and kind walk_forward."""

    filterset_class = WalkForwardRunFilter
    list_serializer, detail_serializer = WalkForwardRunSerializer, WalkForwardRunDetailSerializer
    run_get = staticmethod(walk_forward_run_get)

    def get_queryset(self):
        return walk_forward_run_list()


class StrategyBacktestApi(APIView):
    @extend_schema(
        summary="Backtest a strategy version on its own config and risk policy (operator)",
        description=(
            "Once a backtest was approved for it (backtest_approved or a later stage; 403 before): its "
            "config, its timeframe and universe, under the risk policy it trades under; the span and "
            "costs as given. The first run done makes a backtest_approved version backtested. Queued on "
            "the backtests queue; answered 202 with the run (poll its url)."
        ),
        request=SimulationInputSerializer,
        responses={202: BacktestRunDetailSerializer},
    )
    def post(self, request, pk):
        version = strategy_version_get(version_id=pk)
        self.check_object_permissions(request, version)
        data = SimulationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        timeframe = version.config.get("timeframe", Timeframe.D1.value)
        config = backtest_config_of({**data.validated_data, "timeframe": timeframe})
        run = version_backtest_create(version=version, backtest_config=config, requested_by=request.user)
        backtest_run_enqueue(run=run)
        run.refresh_from_db()  # with eager tasks (no broker) it has run already
        body = BacktestRunDetailSerializer(run, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)
