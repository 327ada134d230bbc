from django.contrib import admin

from quantsite.models import AuditRecord


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that services write (ingestion, the OMS, the audit trail, the risk controls): shown,
    never added, edited or deleted by hand."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    list_display = ("ts", "actor_label", "action", "subject_type", "subject_id", "summary")
    list_filter = ("action", "subject_type")
    search_fields = ("actor_label", "action", "subject_id", "summary")
    date_hierarchy = "ts"
