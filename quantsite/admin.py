from django.contrib import admin

from quantsite.models import AuditRecord


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    """The audit trail, to read: nobody adds, changes or deletes a record here."""

    list_display = ("ts", "actor_label", "action", "subject_type", "subject_id", "summary")
    list_filter = ("action", "subject_type")
    search_fields = ("actor_label", "action", "subject_id", "summary")
    date_hierarchy = "ts"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
