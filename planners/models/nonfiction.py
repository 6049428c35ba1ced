"""The non-fiction domain: what the brief, outline and section-draft phases materialise.

A plan's brief and outline are one row each (re-running the phase updates them in place); the
outline's sections are keyed on ``(plan, section_slug)`` because that slug also names the
section's backlog item (``section-<slug>``), so a re-run outline finds the same rows and items.
"""

from __future__ import annotations

from django.db import models


class NonfictionBrief(models.Model):
    """What the book is for: the brief phase's reply, the context of every later prompt."""

    plan = models.OneToOneField(
        "planners.Plan", on_delete=models.CASCADE, related_name="nonfiction_brief"
    )
    title = models.CharField(max_length=300)
    audience = models.TextField(blank=True)
    thesis = models.TextField(blank=True)
    key_questions = models.JSONField(default=list, blank=True)
    sources = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.title


class NonfictionOutline(models.Model):
    """The book's outline; its sections are ``OutlineSection`` rows."""

    plan = models.OneToOneField(
        "planners.Plan", on_delete=models.CASCADE, related_name="nonfiction_outline"
    )
    title = models.CharField(max_length=300)
    summary = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.title


class OutlineSection(models.Model):
    """One outline section and its draft; the section-draft item that writes it is
    ``backlog_item`` (the section-draft runner finds its section through it)."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        DRAFTED = "drafted", "Drafted"
        BLOCKED = "blocked", "Blocked"
        FAILED = "failed", "Failed"

    outline = models.ForeignKey(
        NonfictionOutline, on_delete=models.CASCADE, related_name="sections"
    )
    # Also on the section (not only through the outline) so the slug is unique per plan, as the
    # backlog id built from it must be.
    plan = models.ForeignKey(
        "planners.Plan", on_delete=models.CASCADE, related_name="outline_sections"
    )
    section_slug = models.SlugField(max_length=200)
    title = models.CharField(max_length=300, blank=True)
    summary = models.TextField(blank=True)
    key_points = models.JSONField(default=list, blank=True)
    order = models.PositiveIntegerField()
    backlog_item = models.ForeignKey(
        "planners.BacklogItem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="outline_sections",
    )
    draft = models.TextField(blank=True)
    word_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["outline", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "section_slug"], name="unique_outline_section_slug"
            ),
        ]

    def __str__(self) -> str:
        return self.title or self.section_slug
