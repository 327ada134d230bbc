from django.contrib import admin

from agents.models import ToolCall
from quantsite.admin import ReadOnlyAdmin


@admin.register(ToolCall)
class ToolCallAdmin(ReadOnlyAdmin):
    list_display = ("called_at", "user", "agent", "tool", "via", "ok", "error", "duration_ms")
    list_filter = ("agent", "ok", "via", "tool")
    search_fields = ("user__username", "tool", "message")
    date_hierarchy = "called_at"
    list_select_related = ("user",)
