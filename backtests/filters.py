"""FilterSets shared by the API lists and the console pages."""

import django_filters

from backtests.choices import RunStatus
from backtests.models import BacktestRun


class BacktestRunFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=RunStatus.choices)
    strategy = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = BacktestRun
        fields = ["status", "strategy"]
