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
        "planners.Plan",
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


class ExecutionRollup(models.Model):
    """Running totals of real (non-synthetic) runs created before ``ExecutionRollupMark``, per
    plan and per group the health report sums (planner, template, outcome, critique status,
    quota limit). Kept by ``planners.execution_rollup``; the report adds the runs after the mark
    from ``PlannerExecution`` itself, so all-time totals cost the same after years of runs.

    ``plan_id`` is a plain column, not a foreign key: runs outlive their plan (their own link is
    set to NULL), and so do their totals.
    """

    plan_id = models.BigIntegerField(null=True, blank=True)
    planner_slug = models.CharField(max_length=100)
    template_id = models.CharField(max_length=200, blank=True)
    outcome = models.CharField(max_length=16, choices=PlannerOutcome.choices)
    critique_status = models.CharField(max_length=32, blank=True)
    quota_limit = models.CharField(max_length=32, blank=True)
    runs = models.BigIntegerField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    critique_tokens = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["plan_id"], name="execution_rollup_plan")]

    def __str__(self) -> str:
        return f"{self.planner_slug} {self.outcome}: {self.runs} run(s)"


class ExecutionRollupMark(models.Model):
    """The one row saying which runs ``ExecutionRollup`` holds: those created before
    ``rolled_up_before`` (none while it is NULL)."""

    rolled_up_before = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"runs rolled up before {self.rolled_up_before or 'never'}"
