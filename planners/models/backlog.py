"""The backlog, its transition history, phase checkpoints and transcripts."""

from __future__ import annotations

from django.db import models


class BacklogStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETE = "complete", "Complete"
    BLOCKED = "blocked", "Blocked"
    FAILED = "failed", "Failed"


class BacklogItem(models.Model):
    plan = models.ForeignKey(
        "planners.Plan", on_delete=models.CASCADE, related_name="backlog_items"
    )
    backlog_id = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=BacklogStatus.choices, default=BacklogStatus.PENDING
    )
    phase = models.CharField(max_length=64)
    position = models.PositiveIntegerField(default=0)
    inputs = models.JSONField(default=list, blank=True)
    outputs = models.JSONField(default=list, blank=True)
    # Kept by planners.pipeline.unproduced_inputs whenever the plan's items change: the input
    # tokens no real item of the plan outputs, so the health report reads orphans without
    # unnesting.
    unproduced_inputs = models.JSONField(default=list, blank=True, editable=False)
    has_unproduced_inputs = models.BooleanField(default=False, editable=False)
    attempts = models.PositiveIntegerField(default=0)
    # The contract the item's task runs under; a resume that contradicts it is drift.
    agent_backend = models.CharField(max_length=32, blank=True)
    agent_provider = models.CharField(max_length=32, blank=True)
    agent_model = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    synthetic = models.BooleanField(
        default=False, help_text="Created by a synthetic alert; kept out of real counts."
    )
    in_progress_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The worker start that claimed the item (planners.pipeline.phase_claim); every change of
    # status lets go of it. A restarted worker resumes what an earlier start of it held.
    claimed_by = models.CharField(
        max_length=255, blank=True, help_text="Node name of the worker holding the item."
    )
    claimed_by_instance = models.CharField(
        max_length=32, blank=True, help_text="Which start of that worker holds it."
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["plan", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "backlog_id"], name="unique_backlog_id"),
        ]
        indexes = [
            models.Index(fields=["status", "in_progress_at"], name="backlog_status_started"),
            models.Index(fields=["status", "heartbeat_at"], name="backlog_status_heartbeat"),
            # Covers the counts by plan, status and kind: answered from the index alone.
            models.Index(fields=["plan", "status", "synthetic"], name="backlog_plan_status_kind"),
            models.Index(fields=["updated_at"], name="backlog_updated"),
            # Exactly the orphans the health report lists (planners.health.orphans).
            models.Index(
                fields=["plan", "id"],
                name="backlog_orphaned",
                condition=models.Q(has_unproduced_inputs=True, synthetic=False)
                & ~models.Q(status="complete"),
            ),
        ]

    def __str__(self) -> str:
        return self.backlog_id


class BacklogTransition(models.Model):
    """Every status change of a backlog item: the history behind flapping and the action log."""

    item = models.ForeignKey(BacklogItem, on_delete=models.CASCADE, related_name="transitions")
    plan = models.ForeignKey("planners.Plan", on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=16, choices=BacklogStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=BacklogStatus.choices)
    reason = models.CharField(max_length=32)
    actor = models.CharField(max_length=150, blank=True)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at"], name="transition_created"),
            models.Index(fields=["to_status", "created_at"], name="transition_to_created"),
            models.Index(fields=["item", "created_at"], name="transition_item_created"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}: {self.from_status or '∅'} → {self.to_status} ({self.reason})"


class ContractDriftEvent(models.Model):
    """A resume request that contradicted the provider, model or agent recorded on the item."""

    item = models.ForeignKey(BacklogItem, on_delete=models.CASCADE, related_name="drift_events")
    plan = models.ForeignKey("planners.Plan", on_delete=models.CASCADE, related_name="drift_events")
    requested = models.JSONField(default=dict)
    recorded = models.JSONField(default=dict)
    actor = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_at"], name="drift_created")]

    def __str__(self) -> str:
        return f"drift on {self.item_id}"


class PhaseCheckpoint(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        COMPLETE = "complete", "Complete"
        BLOCKED = "blocked", "Blocked"
        FAILED = "failed", "Failed"

    plan = models.ForeignKey("planners.Plan", on_delete=models.CASCADE, related_name="checkpoints")
    phase_key = models.CharField(
        max_length=300
    )  # <phase>|<branch>|<target>, e.g. chapterArchitect|main|blueprint:7
    phase = models.CharField(max_length=64)
    backlog_item = models.ForeignKey(
        BacklogItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="checkpoints"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    lock_owner = models.CharField(max_length=200, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["plan", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "phase_key"], name="unique_phase_checkpoint"),
        ]

    def __str__(self) -> str:
        return self.phase_key


class PhaseTranscript(models.Model):
    """One per agent attempt of a phase, whatever became of it: written when the attempt
    starts (``running``) and given its outcome when it ends, so an attempt whose worker died
    still shows (``interrupted``), as do the network, 429 and 5xx attempts a backend retried
    (``error``). A phase that ended before any call has one ``skipped`` row saying why."""

    class Validation(models.TextChoices):
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        UNKNOWN = "unknown", "Unknown"

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed validation"
        ERROR = "error", "Agent error"
        INTERRUPTED = "interrupted", "Interrupted"
        SKIPPED = "skipped", "Skipped (no call)"

    plan = models.ForeignKey("planners.Plan", on_delete=models.CASCADE, related_name="transcripts")
    phase = models.CharField(max_length=64)
    backlog_item = models.ForeignKey(
        BacklogItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="transcripts"
    )
    execution = models.ForeignKey(
        "planners.PlannerExecution",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="transcripts",
    )
    attempt = models.PositiveIntegerField(default=1)
    is_retry = models.BooleanField(default=False)
    request = models.JSONField(default=list, blank=True, help_text="The chat messages sent.")
    response = models.TextField(blank=True, help_text="The raw reply.")
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    validation_status = models.CharField(
        max_length=16, choices=Validation.choices, default=Validation.UNKNOWN
    )
    validation_details = models.JSONField(default=list, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PASSED)
    template_id = models.CharField(max_length=200, blank=True)
    template_version = models.PositiveIntegerField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at"], name="transcript_created"),
            models.Index(
                fields=["backlog_item"],
                name="transcript_running",
                condition=models.Q(outcome="running"),
            ),
            models.Index(fields=["plan", "phase"], name="transcript_plan_phase"),
        ]

    def __str__(self) -> str:
        return f"{self.phase} attempt {self.attempt} ({self.validation_status})"

    @property
    def attempt_kind(self) -> str:
        """What this attempt was, in the words an operator reads: "reply", "repair" or
        "critique" for a call the planner made (the engine's ``attemptKind``), "rate-limited" or
        "network retry" for a try the provider turned away (429; network, timeout, 408, 5xx)
        and that was tried again, "agent error" for one it refused outright, "interrupted"
        for one whose worker stopped."""
        if self.outcome == self.Outcome.INTERRUPTED:
            return "interrupted"
        if self.outcome == self.Outcome.ERROR:
            status = self._http_status()
            if status == 429:
                return "rate-limited"
            if status is None or status == 408 or status >= 500:
                return "network retry"
            return "agent error"
        return str(self.metadata.get("attemptKind") or ("repair" if self.is_retry else "reply"))

    def _http_status(self) -> int | None:
        """The provider's HTTP status for a failed try: recorded with it, or read from the
        error's "HTTP 429 from host" wording in rows written before it was recorded."""
        status = self.metadata.get("statusCode")
        if isinstance(status, int):
            return status
        words = str(self.metadata.get("error", "")).split()
        if len(words) > 1 and words[0] == "HTTP" and words[1].isdigit():
            return int(words[1])
        return None

    @property
    def status_shown(self) -> str:
        """Validation's verdict when the reply was validated, else how the attempt ended (an
        attempt that got no reply was never validated: "unknown" would say nothing)."""
        if self.validation_status != self.Validation.UNKNOWN:
            return str(self.validation_status)
        return str(self.outcome)
