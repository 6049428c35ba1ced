"""Alerts, their events, silences and webhook deliveries (the outbox)."""

from __future__ import annotations

import fnmatch

from django.core.exceptions import ValidationError
from django.db import models

from planners.health.report import Severity


class Alert(models.Model):
    class Status(models.TextChoices):
        FIRING = "firing", "Firing"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    class Channel(models.TextChoices):
        ADMIN = "admin", "Admin"
        CONSOLE = "console", "Console"
        LINK = "link", "Link"
        API = "api", "API"
        PAGERDUTY = "pagerduty", "PagerDuty"
        SLACK = "slack", "Slack"

    #: Channels that reach a route's recipients: the signed link their notification carried,
    #: or their paging or chat system's own acknowledgement. The admin, the console and the
    #: API reach whoever is logged in instead.
    RECIPIENT_CHANNELS = frozenset({Channel.LINK, Channel.PAGERDUTY, Channel.SLACK})

    dedup_key = models.CharField(max_length=300, unique=True)  # "<alert id>@<environment>"
    alert_id = models.CharField(max_length=250)
    environment = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.FIRING)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    planner_slug = models.CharField(max_length=100, blank=True)
    plan_id = models.BigIntegerField(null=True, blank=True)
    backlog_id = models.CharField(max_length=200, blank=True)
    template_id = models.CharField(max_length=200, blank=True)
    synthetic = models.BooleanField(default=False)
    occurrences = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=150, blank=True)
    acknowledged_via = models.CharField(max_length=16, choices=Channel.choices, blank=True)
    last_delivered_at = models.DateTimeField(
        null=True, blank=True, help_text="Last successful delivery (debounce and repeat)."
    )
    # What the receiver was last told (from the last successful delivery): a notification is
    # due when the alert's state differs from it, so a failed delivery is simply tried again.
    delivered_status = models.CharField(max_length=16, blank=True)
    delivered_severity = models.CharField(max_length=16, blank=True)
    slo_breach_notified_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a notification saying the SLO is breached was queued: the breach is "
        "news once, whatever the repeat interval.",
    )

    class Meta:
        ordering = ["-last_seen"]
        indexes = [
            models.Index(fields=["status", "severity"], name="alert_status_severity"),
            models.Index(fields=["last_seen"], name="alert_last_seen"),
        ]

    def __str__(self) -> str:
        return self.dedup_key


class AlertEvent(models.Model):
    """Every change of an alert: fired, updated, severity-changed, resolved, acknowledged, ..."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32)
    actor = models.CharField(max_length=150, blank=True)
    channel = models.CharField(max_length=16, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at"], name="alertevent_created")]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.kind}"


class Silence(models.Model):
    """Alerts whose id matches ``pattern`` (a glob) are not delivered between start and end."""

    pattern = models.CharField(max_length=250, help_text="Alert id or glob, e.g. backlog:*")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    author = models.CharField(max_length=150, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return f"silence {self.pattern}"

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "A silence must end after it starts."})

    def matches(self, alert_id: str) -> bool:
        return fnmatch.fnmatchcase(alert_id, self.pattern)


class Delivery(models.Model):
    """A webhook POST waiting to be sent, sent, or given up on. Written with the alert change."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"  # an attempt failed; will be retried
        DEAD = "dead", "Dead"  # given up

    class Transport(models.TextChoices):
        WEBHOOK = "webhook", "Signed webhook"
        PAGERDUTY = "pagerduty", "PagerDuty"
        SLACK = "slack", "Slack"
        TEAMS = "teams", "Microsoft Teams"
        ALERTMANAGER = "alertmanager", "Alertmanager"

    alerts = models.ManyToManyField(Alert, related_name="deliveries")
    route = models.CharField(max_length=300, blank=True)
    channel = models.CharField(
        max_length=16,
        choices=Transport.choices,
        default=Transport.WEBHOOK,
        help_text="The route's channel: how the notification was sent.",
    )
    webhook_url = models.URLField(max_length=1000)
    routing_key = models.CharField(max_length=200, blank=True)
    webhook_id = models.CharField(max_length=64, unique=True)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            # History retention finds old deliveries by age (opsalerts.retention).
            models.Index(fields=["created_at"], name="delivery_created"),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"delivery {self.webhook_id} ({self.status})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    response_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["delivery", "number"]
        # History retention finds old attempts by age (opsalerts.retention).
        indexes = [models.Index(fields=["created_at"], name="deliveryattempt_created")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
