"""Reads of the agents app: the recorded tool calls."""

from django.db.models import QuerySet

from agents.models import ToolCall


def tool_call_list() -> QuerySet[ToolCall]:
    return ToolCall.objects.select_related("user")
