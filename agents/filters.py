"""FilterSets of the agents app."""

import django_filters

from agents.models import ToolCall
from agents.registry import AGENTS
from quantsite.filters import UtcDateTimeFilter


class ToolCallFilter(django_filters.FilterSet):
    agent = django_filters.ChoiceFilter(choices=[(a, a) for a in AGENTS])
    tool = django_filters.CharFilter()
    user = django_filters.CharFilter(field_name="user__username")
    via = django_filters.ChoiceFilter(choices=ToolCall.Via.choices)
    ok = django_filters.BooleanFilter()
    called_after = UtcDateTimeFilter(field_name="called_at", lookup_expr="gte")
    called_before = UtcDateTimeFilter(field_name="called_at", lookup_expr="lt")

    class Meta:
        model = ToolCall
        fields = ["agent", "tool", "user", "via", "ok", "called_after", "called_before"]
