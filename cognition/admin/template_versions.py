"""Template versions: read-only history; the one write is activating (rolling back to) one."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from cognition.actions import activate_template_version
from cognition.models import PromptTemplateVersion


@admin.register(PromptTemplateVersion)
class PromptTemplateVersionAdmin(admin.ModelAdmin):
    """Read-only: versions are history. The one write is activating (rolling back to) one."""

    list_display = ["template", "number", "source", "author", "note", "created_at", "is_current"]
    list_select_related = ["template"]
    list_filter = ["source", "template"]
    search_fields = ["template__name", "author", "note", "text"]
    ordering = ["template__name", "-number"]
    readonly_fields = (
        "template",
        "number",
        "source",
        "author",
        "note",
        "variables",
        "created_at",
        "text",
    )
    fields = readonly_fields
    actions = ["activate_version"]

    @admin.display(description="active", boolean=True)
    def is_current(self, obj: PromptTemplateVersion) -> bool:
        return obj.template.active_version_id == obj.pk

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: PromptTemplateVersion | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: PromptTemplateVersion | None = None
    ) -> bool:
        return False

    def has_activate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("cognition.change_prompttemplate")

    @admin.action(
        description="Activate (roll back to) the selected version", permissions=["activate"]
    )
    def activate_version(
        self, request: HttpRequest, queryset: QuerySet[PromptTemplateVersion]
    ) -> None:
        versions = list(queryset.select_related("template")[:2])
        if len(versions) != 1:
            self.message_user(
                request, "Select exactly one version to activate.", level=messages.ERROR
            )
            return
        [version] = versions
        if activate_template_version(version, actor=request.user.get_username()):
            self.message_user(request, f"{version.template.name}: v{version.number} is now active.")
        else:
            self.message_user(
                request,
                f"{version.template.name}: v{version.number} was already active.",
                level=messages.INFO,
            )
