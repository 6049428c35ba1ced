"""Projects and their plans; "Run pipeline" calls the same ``start_pipeline`` as the console."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from planners.actions import start_pipeline
from planners.admin.links import changelist_link
from planners.models import FictionProfile, Plan, Project


class FictionProfileInline(admin.StackedInline):
    model = FictionProfile
    extra = 0
    max_num = 1
    verbose_name_plural = "Fiction profile (logline and author persona, for fiction plans)"


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("title", "created_at", "plans")
    search_fields = ("title", "description")
    date_hierarchy = "created_at"
    inlines = (FictionProfileInline,)

    @admin.display(description="Plans")
    def plans(self, obj: Project) -> SafeString:
        return changelist_link(Plan, "plans", project__id__exact=obj.pk)


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "project",
        "pipeline",
        "branch",
        "status",
        "agent_backend",
        "updated_at",
        "console",
    )
    list_filter = ("pipeline", "status", "branch", "agent_backend")
    search_fields = ("name", "project__title", "branch")
    list_select_related = ("project",)
    readonly_fields = ("pipeline", "status", "created_at", "updated_at", "console")
    actions = ("run_pipeline",)

    @admin.display(description="Console")
    def console(self, obj: Plan) -> SafeString:
        url = reverse("console:plan", args=[obj.pk])
        return format_html('<a href="{}">plan page</a>', url)

    @admin.action(description="Run pipeline (queue every ready item)")
    def run_pipeline(self, request: HttpRequest, queryset: QuerySet[Plan]) -> None:
        for plan in queryset:
            queued = start_pipeline(plan, actor=request.user.get_username())
            level = messages.SUCCESS if queued else messages.WARNING
            names = ", ".join(item.backlog_id for item in queued) or "nothing was ready"
            self.message_user(request, f"{plan}: queued {len(queued)} ({names}).", level)
