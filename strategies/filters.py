"""FilterSets shared by the API lists and the console pages."""

import django_filters

from quantsite.filters import IdFilter
from risk.core.state import TradingState
from strategies.choices import ApprovalDecision, ApprovalKind, StrategyStage
from strategies.models import Approval, StrategyVersion


class StrategyVersionFilter(django_filters.FilterSet):
    """On strategy_version_list() (its `state` is annotated)."""

    name = django_filters.CharFilter(lookup_expr="iexact")
    search = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="name contains")
    strategy = django_filters.CharFilter(field_name="config__strategy", label="strategy (momentum, ...)")
    stage = django_filters.MultipleChoiceFilter(choices=StrategyStage.choices)
    enabled = django_filters.BooleanFilter()
    state = django_filters.ChoiceFilter(
        choices=[(s.value, s.value) for s in TradingState], label="its own trading state"
    )

    class Meta:
        model = StrategyVersion
        fields = ["name", "search", "strategy", "stage", "enabled", "state"]


class ApprovalFilter(django_filters.FilterSet):
    decision = django_filters.MultipleChoiceFilter(choices=ApprovalDecision.choices)
    kind = django_filters.ChoiceFilter(choices=ApprovalKind.choices)
    strategy_version = IdFilter(method="filter_version", label="a strategy version's id")
    requested_by = django_filters.CharFilter(field_name="requested_by__username")

    class Meta:
        model = Approval
        fields = ["decision", "kind", "strategy_version", "requested_by"]

    def filter_version(self, queryset, name, value):
        return queryset.filter(subject_type="strategyversion", subject_id=str(value))
