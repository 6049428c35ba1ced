"""The backlog: items (resumed only through ``resume_backlog_item``), their transitions,
contract drift and phase checkpoints."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from planners.actions import ResumeRefused, resume_backlog_item
from planners.admin.links import change_link, changelist_link
from planners.admin.phase_filter import PhaseFilter
from planners.admin.read_only import ReadOnlyAdmin
from planners.models import (
    BacklogItem,
    BacklogTransition,
    ContractDriftEvent,
    PhaseCheckpoint,
    PhaseTranscript,
    PlannerExecution,
)
from planners.pipeline.unproduced_inputs import refresh_unproduced_inputs


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
        "claimed_by",
        "claimed_by_instance",
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
