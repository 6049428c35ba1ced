"""What each run left: phase transcripts, planner executions and their telemetry events."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from planners.admin.links import change_link, changelist_link
from planners.admin.phase_filter import PhaseFilter
from planners.admin.read_only import ReadOnlyAdmin
from planners.models import PhaseTranscript, PlannerExecution, TelemetryEvent


def template_label(template_id: str, template_version: int | None) -> str:
    """``<template> v<version>``, the template alone when no version was recorded, or a dash."""
    if not template_id:
        return "—"
    return f"{template_id} v{template_version}" if template_version else template_id


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
        return template_label(obj.template_id, obj.template_version)

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
        return template_label(obj.template_id, obj.template_version)

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
