"""FilterSets shared by the API lists and the console pages."""

import django_filters

from backtests.choices import RunKind, RunStatus
from backtests.models import BacktestRun, WalkForwardRun


class _RunFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=RunStatus.choices)
    strategy = django_filters.CharFilter(lookup_expr="iexact")
    # The runs list holds both kinds: each kind's FilterSet keeps its runs, or none of them.
    kind = django_filters.ChoiceFilter(choices=RunKind.choices, method="filter_kind")
    own_kind: RunKind

    def filter_kind(self, queryset, name, value):
        return queryset if value == self.own_kind else queryset.none()


class BacktestRunFilter(_RunFilter):
    own_kind = RunKind.BACKTEST

    class Meta:
        model = BacktestRun
        fields = ["status", "strategy", "kind"]


class WalkForwardRunFilter(_RunFilter):
    own_kind = RunKind.WALK_FORWARD

    class Meta:
        model = WalkForwardRun
        fields = ["status", "strategy", "kind"]
