"""FilterSets shared by the API lists and the console pages."""

import django_filters

from execution.choices import TradingMode
from monitoring.choices import HealthStatus
from monitoring.models import Alert, DailySummary, MetricSnapshot, SystemSnapshot


class AlertFilter(django_filters.FilterSet):
    severity = django_filters.MultipleChoiceFilter(choices=Alert.Severity.choices)
    source = django_filters.CharFilter()
    resolved = django_filters.BooleanFilter()
    acknowledged = django_filters.BooleanFilter(
        field_name="acknowledged_at", lookup_expr="isnull", exclude=True, label="acknowledged"
    )
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Alert
        fields = ["severity", "source", "resolved", "acknowledged", "created_after", "created_before"]


class MetricSnapshotFilter(django_filters.FilterSet):
    scope = django_filters.ChoiceFilter(choices=MetricSnapshot.Scope.choices)
    mode = django_filters.ChoiceFilter(choices=TradingMode.choices)
    strategy_version = django_filters.NumberFilter(field_name="strategy_version_id")
    taken_after = django_filters.IsoDateTimeFilter(field_name="taken_at", lookup_expr="gte")
    taken_before = django_filters.IsoDateTimeFilter(field_name="taken_at", lookup_expr="lt")

    class Meta:
        model = MetricSnapshot
        fields = ["scope", "mode", "strategy_version", "taken_after", "taken_before"]


class SystemSnapshotFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=HealthStatus.choices)
    taken_after = django_filters.IsoDateTimeFilter(field_name="taken_at", lookup_expr="gte")
    taken_before = django_filters.IsoDateTimeFilter(field_name="taken_at", lookup_expr="lt")

    class Meta:
        model = SystemSnapshot
        fields = ["status", "taken_after", "taken_before"]


class DailySummaryFilter(django_filters.FilterSet):
    day_from = django_filters.DateFilter(field_name="day", lookup_expr="gte")
    day_to = django_filters.DateFilter(field_name="day", lookup_expr="lte")

    class Meta:
        model = DailySummary
        fields = ["day_from", "day_to"]
