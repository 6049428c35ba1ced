"""Prompt templates with immutable versions, and API tokens for staff automation."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models


class PromptTemplate(models.Model):
    """A named prompt (``planner.fiction.vision``) pointing at its active version."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(
        default=True, help_text="Inactive templates are skipped: planners use their fallback."
    )
    active_version = models.ForeignKey(
        "PromptTemplateVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PromptTemplateVersion(models.Model):
    """One immutable text of a template. Edits add versions; rollback moves the pointer."""

    class Source(models.TextChoices):
        SEEDED = "seeded", "Seeded"
        ADMIN = "admin", "Admin"

    template = models.ForeignKey(PromptTemplate, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    text = models.TextField()
    variables = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    author = models.CharField(max_length=150, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="unique_template_version"),
        ]

    def __str__(self) -> str:
        return f"{self.template.name} v{self.number}"


class ApiToken(models.Model):
    """A bearer token for a staff user. Only its SHA-256 is stored; the token is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, help_text="First characters, to tell tokens apart.")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class AgentBackendLimit(models.Model):
    """One agent backend's provider limits as every worker process sees them, when they are kept
    in the database (``cognition.agents.limits``): the calls in flight, the pacing of requests
    and tokens, and a pause the provider asked for. Each admission locks the row."""

    backend = models.CharField(max_length=50, unique=True)
    leases = models.JSONField(
        default=dict,
        blank=True,
        help_text="Calls in flight: lease id → expiry (Unix seconds). An expired lease is a call "
        "whose worker died; the next admission drops it.",
    )
    requests_tat = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Requests' theoretical arrival time: when every request admitted so far would "
        "have gone at AGENT_REQUESTS_PER_MINUTE. The next goes within one interval of it.",
    )
    tokens_tat = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Tokens' theoretical arrival time: when every token admitted so far would have "
        "gone at AGENT_TOKENS_PER_MINUTE. The next call goes once it has passed.",
    )
    paused_until = models.DateTimeField(
        null=True, blank=True, help_text="No call is admitted before this (a 429's Retry-After)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["backend"]

    def __str__(self) -> str:
        return self.backend


class ProcessHeartbeat(models.Model):
    """One Celery worker process or beat, as it last reported itself (``cognition.liveness``).

    A worker writes its row when it is ready and then every ``LIVENESS_INTERVAL_SECONDS``; beat
    on its ticks, at most that often. A row whose ``last_seen`` is older than three intervals is a
    process that died or hangs; a clean shutdown deletes its row."""

    class Kind(models.TextChoices):
        WORKER = "worker", "Worker"
        BEAT = "beat", "Beat"
        #: Not a process: the last alert evaluation (which worker ran it), so the console can
        #: say when alerts were last evaluated, not only that beat and a worker are up.
        EVALUATION = "evaluation", "Alert evaluation"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    host = models.CharField(max_length=255, help_text="The worker's node name, or beat's host.")
    pid = models.PositiveIntegerField()
    queues = models.JSONField(default=list, blank=True, help_text="Queues the worker consumes.")
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["kind", "-last_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "host", "pid"], name="unique_process_heartbeat"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.host} (pid {self.pid})"
