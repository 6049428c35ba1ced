"""Projects and their plans: what every pipeline runs over."""

from __future__ import annotations

from django.db import models


class Project(models.Model):
    """What a team plans: a novel, a research brief, a roadmap. Families keep their own
    details of it in their own models (fiction's ``FictionProfile``)."""

    title = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class Plan(models.Model):
    """One run of a pipeline over a project, on a branch: its backlog, checkpoints, transcripts
    and executions hang off it. ``pipeline`` is the registered pipeline's slug."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETE = "complete", "Complete"
        BLOCKED = "blocked", "Blocked"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="plans")
    pipeline = models.CharField(max_length=100, default="fiction")
    name = models.CharField(max_length=200)
    branch = models.CharField(max_length=100, default="main")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    agent_backend = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "pipeline", "branch"], name="unique_plan_pipeline_branch"
            ),
        ]
        indexes = [models.Index(fields=["status"], name="plan_status")]

    def __str__(self) -> str:
        return self.name
