"""The action log: who did what to which row, read only."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import SafeString

from planners.admin.read_only import ReadOnlyAdmin
from planners.models import ActionLogEntry


@admin.register(ActionLogEntry)
class ActionLogEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "action", "actor", "target_link", "environment")
    list_filter = ("action", "environment")
    search_fields = ("actor", "target", "action")
    date_hierarchy = "created_at"

    @admin.display(description="Target", ordering="target")
    def target_link(self, obj: ActionLogEntry) -> SafeString | str:
        if obj.target_url:
            return format_html('<a href="{}">{}</a>', obj.target_url, obj.target)
        return obj.target
