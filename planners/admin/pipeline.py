"""Admin for the pipeline, backlog, transcripts and executions.

Rows that record what happened (transitions, transcripts, executions, telemetry, the action log,
contract drift, checkpoints) are read-only here: nobody adds, edits or deletes history. Backlog
status changes only through the same actions the console and the commands use, so the admin's
"Resume" action calls ``planners.actions.resume_backlog_item`` and "Run pipeline" calls
``start_pipeline``. Related rows link to each other: backlog item → transcripts → execution.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from planners.actions import ResumeRefused, resume_backlog_item, start_pipeline
from planners.models import (
    ActionLogEntry,
    BacklogItem,
    BacklogTransition,
    CastMember,
    ChapterBeat,
    ChapterBlueprint,
    ChapterScene,
    ChapterScroll,
    ChapterSection,
    ContractDriftEvent,
    FictionItemTarget,
    FictionProfile,
    FictionVision,
    LoreRequirement,
    PhaseCheckpoint,
    PhaseTranscript,
    Plan,
    PlannerExecution,
    PlanPass,
    Project,
    TelemetryEvent,
)
from planners.pipeline.registry import pipelines
from planners.pipeline.unproduced_inputs import refresh_unproduced_inputs


def change_link(obj: Model | None, label: str | None = None) -> SafeString | str:
    """A link to ``obj``'s admin page, or its text when it has none."""
    if obj is None:
        return "—"
    meta = obj._meta
    try:
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return label or str(obj)
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


def changelist_link(model: type[Model], label: str, **filters: Any) -> SafeString:
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    return format_html('<a href="{}?{}">{}</a>', url, query, label)


class PhaseFilter(admin.SimpleListFilter):
    """Phases of every registered pipeline, in pipeline order (no query to list them)."""

    title = "phase"
    parameter_name = "phase"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return pipelines.phase_labels()

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(phase=value) if value else queryset


class ReadOnlyAdmin(admin.ModelAdmin):
    """History: viewable by staff with view permission, never added, changed or deleted."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Projects and plans ----------------------------------------------------------------------


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


# --- Fiction records ----------------------------------------------------------------------------


@admin.register(FictionVision)
class FictionVisionAdmin(admin.ModelAdmin):
    list_display = ("plan", "author_summary")
    search_fields = ("plan__name", "author_summary")
    list_select_related = ("plan",)


@admin.register(FictionItemTarget)
class FictionItemTargetAdmin(ReadOnlyAdmin):
    list_display = ("item", "blueprint", "scroll", "section", "scene")
    list_select_related = ("item", "blueprint", "scroll", "section", "scene")
    search_fields = ("item__backlog_id",)


@admin.register(CastMember)
class CastMemberAdmin(admin.ModelAdmin):
    list_display = ("name", "plan", "tier", "role", "importance")
    list_filter = ("tier",)
    search_fields = ("name", "role", "summary", "plan__name")
    list_select_related = ("plan",)


@admin.register(PlanPass)
class PlanPassAdmin(admin.ModelAdmin):
    list_display = ("__str__", "plan", "iteration", "created_at")
    search_fields = ("plan__name",)
    list_select_related = ("plan",)


class ChapterBeatInline(admin.TabularInline):
    model = ChapterBeat
    extra = 0
    fields = ("order", "slug", "summary", "goal", "obstacle", "turn", "fallout", "carry_forward")


@admin.register(ChapterBlueprint)
class ChapterBlueprintAdmin(admin.ModelAdmin):
    list_display = ("slug", "title", "plan", "updated_at")
    search_fields = ("slug", "title", "synopsis", "plan__name")
    list_select_related = ("plan",)
    inlines = (ChapterBeatInline,)


@admin.register(ChapterScroll)
class ChapterScrollAdmin(admin.ModelAdmin):
    list_display = ("scroll_slug", "title", "plan", "blueprint", "created_at")
    search_fields = ("scroll_slug", "title", "synopsis", "plan__name")
    list_select_related = ("plan", "blueprint")


@admin.register(ChapterSection)
class ChapterSectionAdmin(admin.ModelAdmin):
    list_display = ("section_slug", "title", "scroll", "order")
    search_fields = ("section_slug", "title", "summary", "scroll__scroll_slug")
    list_select_related = ("scroll",)


@admin.register(ChapterScene)
class ChapterSceneAdmin(admin.ModelAdmin):
    list_display = ("scene_slug", "title", "section", "status", "word_count", "updated_at")
    list_filter = ("status",)
    search_fields = ("scene_slug", "title", "goal", "section__section_slug")
    list_select_related = ("section", "section__scroll")


@admin.register(LoreRequirement)
class LoreRequirementAdmin(admin.ModelAdmin):
    list_display = ("requirement_slug", "title", "plan", "status", "scroll", "updated_at")
    list_filter = ("status",)
    search_fields = ("requirement_slug", "title", "description", "plan__name")
    list_select_related = ("plan", "scroll")


# --- Backlog ----------------------------------------------------------------------------------


@admin.register(BacklogItem)
class BacklogItemAdmin(admin.ModelAdmin):
    list_display = (
        "backlog_id",
        "plan",
        "phase",
        "status",
        "attempts",
        "synthetic",
        "updated_at",
        "history",
    )
    list_filter = ("status", PhaseFilter, "synthetic", "agent_backend")
    search_fields = ("backlog_id", "description", "plan__name", "last_error")
    list_select_related = ("plan",)
    raw_id_fields = ("plan",)
    # Status moves only through actions (resume, the pipeline), which record transitions.
    readonly_fields = (
        "status",
        "attempts",
        "last_error",
        "in_progress_at",
        "heartbeat_at",
        "completed_at",
        "created_at",
        "updated_at",
        "unproduced_inputs",
        "history",
    )
    actions = ("resume_items",)

    # Editing or deleting an item can leave another without a producer, or give it one.
    def save_model(self, request: HttpRequest, obj: BacklogItem, form: Any, change: bool) -> None:
        before = BacklogItem.objects.filter(pk=obj.pk).values_list("plan_id", flat=True).first()
        super().save_model(request, obj, form, change)
        refresh_unproduced_inputs({obj.plan_id} | ({before} if before else set()))

    def delete_model(self, request: HttpRequest, obj: BacklogItem) -> None:
        plan_id = obj.plan_id
        super().delete_model(request, obj)
        refresh_unproduced_inputs([plan_id])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[BacklogItem]) -> None:
        plan_ids = set(queryset.values_list("plan_id", flat=True))
        super().delete_queryset(request, queryset)
        refresh_unproduced_inputs(plan_ids)

    @admin.display(description="History")
    def history(self, obj: BacklogItem) -> SafeString:
        return format_html(
            "{} · {} · {}",
            changelist_link(BacklogTransition, "transitions", item__id__exact=obj.pk),
            changelist_link(PhaseTranscript, "transcripts", backlog_item__id__exact=obj.pk),
            changelist_link(PlannerExecution, "executions", backlog_item__id__exact=obj.pk),
        )

    @admin.action(description="Resume selected items (back to pending and queued)")
    def resume_items(self, request: HttpRequest, queryset: QuerySet[BacklogItem]) -> None:
        actor = request.user.get_username()
        resumed, refused = 0, []
        for item in queryset.select_related("plan"):
            try:
                resume_backlog_item(item, actor=actor, reason="resume")
                resumed += 1
            except ResumeRefused as exc:
                refused.append(str(exc))
        if resumed:
            self.message_user(request, f"Resumed {resumed} item(s).", messages.SUCCESS)
        for reason in refused:
            self.message_user(request, f"Not resumed: {reason}", messages.WARNING)


@admin.register(BacklogTransition)
class BacklogTransitionAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "item_link",
        "plan",
        "from_status",
        "to_status",
        "reason",
        "actor",
    )
    list_filter = ("to_status", "from_status", "reason")
    search_fields = ("item__backlog_id", "actor", "reason", "detail")
    list_select_related = ("item", "plan")
    date_hierarchy = "created_at"

    @admin.display(description="Item", ordering="item__backlog_id")
    def item_link(self, obj: BacklogTransition) -> SafeString | str:
        return change_link(obj.item, obj.item.backlog_id)


@admin.register(ContractDriftEvent)
class ContractDriftEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "item_link", "plan", "actor", "requested", "recorded")
    search_fields = ("item__backlog_id", "actor")
    list_select_related = ("item", "plan")
    date_hierarchy = "created_at"

    @admin.display(description="Item", ordering="item__backlog_id")
    def item_link(self, obj: ContractDriftEvent) -> SafeString | str:
        return change_link(obj.item, obj.item.backlog_id)


@admin.register(PhaseCheckpoint)
class PhaseCheckpointAdmin(ReadOnlyAdmin):
    list_display = ("phase_key", "plan", "phase", "status", "attempts", "lock_owner", "updated_at")
    list_filter = ("status", PhaseFilter)
    search_fields = ("phase_key", "lock_owner", "plan__name")
    list_select_related = ("plan",)


@admin.register(PhaseTranscript)
class PhaseTranscriptAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "plan",
        "phase",
        "item_link",
        "attempt",
        "is_retry",
        "validation_status",
        "prompt_tokens",
        "completion_tokens",
        "latency_ms",
        "template",
        "execution_link",
    )
    list_filter = (PhaseFilter, "validation_status", "is_retry")
    search_fields = ("backlog_item__backlog_id", "template_id", "response")
    list_select_related = ("plan", "backlog_item", "execution")
    date_hierarchy = "created_at"
    readonly_fields = ("console",)

    @admin.display(description="Backlog item", ordering="backlog_item__backlog_id")
    def item_link(self, obj: PhaseTranscript) -> SafeString | str:
        item = obj.backlog_item
        return change_link(item, item.backlog_id) if item else "—"

    @admin.display(description="Execution")
    def execution_link(self, obj: PhaseTranscript) -> SafeString | str:
        run = obj.execution
        return change_link(run, f"{run.planner_slug} #{run.pk} ({run.outcome})") if run else "—"

    @admin.display(description="Template")
    def template(self, obj: PhaseTranscript) -> str:
        if not obj.template_id:
            return "—"
        return (
            f"{obj.template_id} v{obj.template_version}"
            if obj.template_version
            else obj.template_id
        )

    @admin.display(description="Console")
    def console(self, obj: PhaseTranscript) -> SafeString:
        return format_html(
            '<a href="{}">full transcript in the console</a>',
            reverse("console:transcript", args=[obj.pk]),
        )


@admin.register(PlannerExecution)
class PlannerExecutionAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "planner_slug",
        "outcome",
        "used_fallback",
        "template",
        "latency_ms",
        "prompt_tokens",
        "completion_tokens",
        "plan",
        "item_link",
        "transcripts",
    )
    list_filter = (
        "outcome",
        "planner_slug",
        "used_fallback",
        "critique_status",
        "quota_limit",
        "environment",
        "synthetic",
    )
    search_fields = ("correlation_id", "planner_slug", "error", "backlog_item__backlog_id")
    list_select_related = ("plan", "backlog_item")
    date_hierarchy = "created_at"

    @admin.display(description="Template")
    def template(self, obj: PlannerExecution) -> str:
        if not obj.template_id:
            return "—"
        return (
            f"{obj.template_id} v{obj.template_version}"
            if obj.template_version
            else obj.template_id
        )

    @admin.display(description="Backlog item", ordering="backlog_item__backlog_id")
    def item_link(self, obj: PlannerExecution) -> SafeString | str:
        item = obj.backlog_item
        return change_link(item, item.backlog_id) if item else "—"

    @admin.display(description="Transcripts")
    def transcripts(self, obj: PlannerExecution) -> SafeString:
        return changelist_link(PhaseTranscript, "transcripts", execution__id__exact=obj.pk)


@admin.register(TelemetryEvent)
class TelemetryEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "name", "planner_slug", "execution_link", "correlation_id")
    list_filter = ("name", "planner_slug", "environment")
    search_fields = ("correlation_id", "planner_slug")
    list_select_related = ("execution",)
    date_hierarchy = "created_at"

    @admin.display(description="Execution")
    def execution_link(self, obj: TelemetryEvent) -> SafeString | str:
        run = obj.execution
        return change_link(run, f"#{run.pk} ({run.outcome})") if run else "—"


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
