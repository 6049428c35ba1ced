"""One row per planner run, and the telemetry events runs emit."""

from __future__ import annotations

from django.db import models


class PlannerOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    PARTIAL = "partial", "Partial"
    BLOCKED = "blocked", "Blocked"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    THROTTLED = "throttled", "Throttled"
    REJECTED = "rejected", "Rejected"


class PlannerExecution(models.Model):
    """Every ``PlannerBase.plan()`` call writes one, whatever its outcome."""

    planner_slug = models.CharField(max_length=100)
    outcome = models.CharField(max_length=16, choices=PlannerOutcome.choices)
    template_id = models.CharField(max_length=200, blank=True)
    template_version = models.PositiveIntegerField(null=True, blank=True)
    used_fallback = models.BooleanField(default=False)
    duration_ms = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    critique_count = models.PositiveIntegerField(default=0)
    critique_tokens = models.PositiveIntegerField(default=0)
    critique_status = models.CharField(max_length=32, blank=True)
    validation_status = models.CharField(max_length=16, blank=True)
    quota_limit = models.CharField(
        max_length=32, blank=True, help_text="The quota that throttled or rejected the run."
    )
    diagnostics = models.JSONField(default=dict, blank=True)
    transcript = models.JSONField(default=list, blank=True)
    artifacts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    environment = models.CharField(max_length=16)
    correlation_id = models.CharField(max_length=64, db_index=True)
    agent_provider = models.CharField(max_length=32, blank=True)
    agent_model = models.CharField(max_length=100, blank=True)
    plan = models.ForeignKey(
        "planners.FictionPlan",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="executions",
    )
    backlog_item = models.ForeignKey(
        "planners.BacklogItem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="executions",
    )
    synthetic = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["created_at"], name="execution_created"),
            models.Index(fields=["planner_slug", "created_at"], name="execution_planner_created"),
            models.Index(fields=["outcome", "created_at"], name="execution_outcome_created"),
        ]

    def __str__(self) -> str:
        return f"{self.planner_slug} {self.outcome} #{self.pk}"


class TelemetryEvent(models.Model):
    """``planner.started``, ``planner.completed``, ``planner.failed``, ``planner.throttled``,
    ``planner.rejected``: also written to the log as structured lines."""

    name = models.CharField(max_length=32)
    planner_slug = models.CharField(max_length=100)
    execution = models.ForeignKey(
        PlannerExecution,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
    )
    correlation_id = models.CharField(max_length=64)
    environment = models.CharField(max_length=16)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["created_at"], name="telemetry_created"),
            models.Index(fields=["name", "created_at"], name="telemetry_name_created"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.planner_slug}"
