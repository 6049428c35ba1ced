"""The operator action log: resumes, auto-resumes, acknowledgements, sign-offs, runs."""

from __future__ import annotations

from django.db import models


class ActionLogEntry(models.Model):
    action = models.CharField(max_length=32)  # resume, auto-resume, acknowledge, sign-off, ...
    actor = models.CharField(max_length=150, blank=True)
    target = models.CharField(max_length=300, help_text="What was acted on, for people.")
    target_url = models.CharField(max_length=500, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    environment = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at"], name="actionlog_created")]
        verbose_name_plural = "action log entries"

    def __str__(self) -> str:
        return f"{self.action} {self.target}"
