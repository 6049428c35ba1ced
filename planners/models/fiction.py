"""The fiction family's records: what its phases materialise, and what each item works on."""

from __future__ import annotations

from django.db import models

from planners.models.plan import Plan, Project


class FictionProfile(models.Model):
    """What the fiction phases know of a project beyond its title and description."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, primary_key=True, related_name="fiction_profile"
    )
    logline = models.TextField(blank=True)
    author_persona_name = models.CharField(max_length=200, blank=True)
    author_persona_summary = models.TextField(blank=True)
    author_persona_memories = models.TextField(blank=True)
    author_world_notes = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"fiction profile of {self.project_id}"


class FictionVision(models.Model):
    """What the vision phase settled for a plan (its cast and lore have their own rows)."""

    plan = models.OneToOneField(
        Plan, on_delete=models.CASCADE, primary_key=True, related_name="fiction_vision"
    )
    author_summary = models.TextField(blank=True)
    book_goals = models.JSONField(default=list, blank=True)
    open_questions = models.JSONField(default=list, blank=True)
    world_seeds = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"vision of plan {self.plan_id}"


class CastMember(models.Model):
    class Tier(models.TextChoices):
        CORE = "core", "Core"
        SUPPORTING = "supporting", "Supporting"

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="cast")
    tier = models.CharField(max_length=16, choices=Tier.choices)
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=200, blank=True)
    track = models.CharField(max_length=200, blank=True)
    importance = models.CharField(max_length=100, blank=True)
    summary = models.TextField(blank=True)

    class Meta:
        ordering = ["plan", "tier", "name"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "name"], name="unique_cast_member"),
        ]

    def __str__(self) -> str:
        return self.name


class PlanPass(models.Model):
    """One iterative planning pass (iteration N)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="passes")
    iteration = models.PositiveIntegerField()
    # The item whose run wrote this pass: a re-run of that item updates its pass, not a new one.
    backlog_item = models.ForeignKey(
        "planners.BacklogItem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="plan_passes",
    )
    story_adjustments = models.JSONField(default=list, blank=True)
    character_priorities = models.JSONField(default=list, blank=True)
    location_notes = models.JSONField(default=list, blank=True)
    systems_considerations = models.JSONField(default=list, blank=True)
    risks = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan", "iteration"]
        verbose_name = "plan pass"
        verbose_name_plural = "plan passes"
        constraints = [
            models.UniqueConstraint(fields=["plan", "iteration"], name="unique_plan_pass"),
        ]

    def __str__(self) -> str:
        return f"Pass {self.iteration} of {self.plan}"


class ChapterBlueprint(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="blueprints")
    slug = models.SlugField(max_length=200)
    title = models.CharField(max_length=300, blank=True)
    synopsis = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["plan", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "slug"], name="unique_blueprint_slug"),
        ]

    def __str__(self) -> str:
        return self.title or self.slug


class ChapterBeat(models.Model):
    blueprint = models.ForeignKey(ChapterBlueprint, on_delete=models.CASCADE, related_name="beats")
    order = models.PositiveIntegerField()
    slug = models.SlugField(max_length=200)
    summary = models.TextField(blank=True)
    goal = models.TextField(blank=True)
    obstacle = models.TextField(blank=True)
    turn = models.TextField(blank=True)
    fallout = models.TextField(blank=True)
    carry_forward = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["blueprint", "order"]
        constraints = [
            models.UniqueConstraint(fields=["blueprint", "slug"], name="unique_beat_slug"),
        ]

    def __str__(self) -> str:
        return self.slug


class ChapterScroll(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="scrolls")
    blueprint = models.ForeignKey(
        ChapterBlueprint, on_delete=models.CASCADE, related_name="scrolls"
    )
    scroll_slug = models.SlugField(max_length=200)
    title = models.CharField(max_length=300, blank=True)
    synopsis = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "scroll_slug"], name="unique_scroll_slug"),
        ]

    def __str__(self) -> str:
        return self.title or self.scroll_slug


class ChapterSection(models.Model):
    scroll = models.ForeignKey(ChapterScroll, on_delete=models.CASCADE, related_name="sections")
    order = models.PositiveIntegerField()
    section_slug = models.SlugField(max_length=200)
    title = models.CharField(max_length=300, blank=True)
    summary = models.TextField(blank=True)
    transitions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["scroll", "order"]
        constraints = [
            models.UniqueConstraint(fields=["scroll", "section_slug"], name="unique_section_slug"),
        ]

    def __str__(self) -> str:
        return self.title or self.section_slug


class ChapterScene(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        DRAFTED = "drafted", "Drafted"
        BLOCKED = "blocked", "Blocked"
        FAILED = "failed", "Failed"

    section = models.ForeignKey(ChapterSection, on_delete=models.CASCADE, related_name="scenes")
    order = models.PositiveIntegerField()
    scene_slug = models.SlugField(max_length=200)
    title = models.CharField(max_length=300, blank=True)
    goal = models.TextField(blank=True)
    conflict = models.TextField(blank=True)
    turn = models.TextField(blank=True)
    fallout = models.TextField(blank=True)
    carry_forward = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    prose = models.TextField(blank=True)
    word_count = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["section", "order"]
        constraints = [
            models.UniqueConstraint(fields=["section", "scene_slug"], name="unique_scene_slug"),
        ]

    def __str__(self) -> str:
        return self.title or self.scene_slug


class LoreRequirement(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        BLOCKED = "blocked", "Blocked"
        READY = "ready", "Ready"

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="lore")
    requirement_slug = models.SlugField(max_length=200)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    required_for = models.JSONField(
        default=list, blank=True, help_text="Scroll or scene slugs this requirement gates."
    )
    scroll = models.ForeignKey(
        ChapterScroll,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lore_requirements",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["plan", "requirement_slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "requirement_slug"], name="unique_lore_requirement"
            ),
        ]
        indexes = [models.Index(fields=["status"], name="lore_status")]

    def __str__(self) -> str:
        return self.requirement_slug


class FictionItemTarget(models.Model):
    """The rows a fiction backlog item works on (real foreign keys): the blueprint a chapter
    architect designs, the scroll it refines, the scene a weaver drafts. One per item that has
    any; items without targets have none."""

    item = models.OneToOneField(
        "planners.BacklogItem",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="fiction_target",
    )
    blueprint = models.ForeignKey(
        ChapterBlueprint,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="item_targets",
    )
    scroll = models.ForeignKey(
        ChapterScroll, null=True, blank=True, on_delete=models.SET_NULL, related_name="item_targets"
    )
    section = models.ForeignKey(
        ChapterSection,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="item_targets",
    )
    scene = models.ForeignKey(
        ChapterScene, null=True, blank=True, on_delete=models.SET_NULL, related_name="item_targets"
    )

    def __str__(self) -> str:
        return f"targets of item {self.item_id}"
