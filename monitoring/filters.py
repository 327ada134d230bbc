"""FilterSets shared by the API lists and the console pages.

They are strict: a parameter given empty, a boolean that is neither true nor false, or an id outside
the database's integers is a 400, never silently ignored (an API client that misspells a value
learns it instead of getting everything)."""

import django_filters
from django import forms
from drf_spectacular.utils import extend_schema_field

from execution.choices import TradingMode
from monitoring.choices import HealthStatus
from monitoring.models import Alert, DailySummary, MetricSnapshot, SystemSnapshot
from quantsite.filters import UtcDateTimeFilter

BOOLEANS = {"true", "false", "True", "False", "1", "0"}
LARGEST_ID = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": LARGEST_ID})
class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, min_value=1, max_value=LARGEST_ID, **kwargs)


@extend_schema_field({"type": "string", "minLength": 1})
class TextFilter(django_filters.CharFilter):
    """Text that is given or absent, never empty."""


class StrictFilterSet(django_filters.FilterSet):
    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name, declared in self.filters.items():
            given = self.data.getlist(name) if hasattr(self.data, "getlist") else [self.data.get(name)]
            if len(given) > 1 and not isinstance(declared, django_filters.MultipleChoiceFilter):
                self.form.add_error(name, "is given once at most")
            for value in (v for v in given if v is not None):
                if not value.strip():
                    self.form.add_error(name, "may not be empty when given")
                elif isinstance(declared, django_filters.BooleanFilter) and value not in BOOLEANS:
                    self.form.add_error(name, f"is true or false, not {value!r}")
        return valid and self.form.is_valid()


class AlertFilter(StrictFilterSet):
    severity = django_filters.MultipleChoiceFilter(choices=Alert.Severity.choices)
    source = TextFilter()
    resolved = django_filters.BooleanFilter()
    acknowledged = django_filters.BooleanFilter(
        field_name="acknowledged_at", lookup_expr="isnull", exclude=True, label="acknowledged"
    )
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Alert
        fields = ["severity", "source", "resolved", "acknowledged", "created_after", "created_before"]


class MetricSnapshotFilter(StrictFilterSet):
    scope = django_filters.ChoiceFilter(choices=MetricSnapshot.Scope.choices)
    mode = django_filters.ChoiceFilter(choices=TradingMode.choices)
    strategy_version = IdFilter(field_name="strategy_version_id")
    taken_after = UtcDateTimeFilter(field_name="taken_at", lookup_expr="gte")
    taken_before = UtcDateTimeFilter(field_name="taken_at", lookup_expr="lt")

    class Meta:
        model = MetricSnapshot
        fields = ["scope", "mode", "strategy_version", "taken_after", "taken_before"]


class SystemSnapshotFilter(StrictFilterSet):
    status = django_filters.ChoiceFilter(choices=HealthStatus.choices)
    taken_after = UtcDateTimeFilter(field_name="taken_at", lookup_expr="gte")
    taken_before = UtcDateTimeFilter(field_name="taken_at", lookup_expr="lt")

    class Meta:
        model = SystemSnapshot
        fields = ["status", "taken_after", "taken_before"]


class DailySummaryFilter(StrictFilterSet):
    day_from = django_filters.DateFilter(field_name="day", lookup_expr="gte")
    day_to = django_filters.DateFilter(field_name="day", lookup_expr="lte")

    class Meta:
        model = DailySummary
        fields = ["day_from", "day_to"]
