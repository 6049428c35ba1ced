"""Rollout records: environments, per-planner checklists built from the runbook, and sign-offs.

The runbook (``seed/planner_rollout_recipe.md``) is a Markdown checklist; these rows turn each of
its boxes into a record with evidence, so a sign-off can be checked instead of trusted. The rules
(who may sign, what must pass first) live in ``planners.rollouts.actions``; the models only keep
what cannot be bypassed from anywhere: a waiver needs its reason, and a sign-off never changes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.core.exceptions import ValidationError
from django.db import models


class Environment(models.Model):
    """A deployment stage. Rollouts move through them in ``position`` order."""

    name = models.SlugField(max_length=16, unique=True)
    position = models.PositiveSmallIntegerField(
        unique=True, help_text="Rollout order: the previous environment must be signed off first."
    )
    signers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="rollout_environments",
        help_text="People allowed to sign off this environment.",
    )
    signer_group = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Members of this group may sign off too.",
    )

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.name

    @property
    def restricts_signers(self) -> bool:
        """With no signer and no group named, any active staff member may sign off."""
        return self.signer_group_id is not None or self.signers.exists()

    def allows_signer(self, user: AbstractBaseUser | AnonymousUser) -> bool:
        if not (user.is_authenticated and user.is_active and getattr(user, "is_staff", False)):
            return False
        group_id = self.signer_group_id
        if group_id is not None and (
            get_user_model().objects.filter(pk=user.pk, groups=group_id).exists()
        ):
            return True
        if self.signers.filter(pk=user.pk).exists():
            return True
        return not self.restricts_signers


class ChecklistStatus(models.TextChoices):
    """Where a (planner, environment) rollout stands; computed, never stored."""

    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    READY = "ready", "Ready to sign"
    SIGNED_OFF = "signed_off", "Signed off"


class RolloutChecklist(models.Model):
    """The runbook's checklist for one planner in one environment."""

    planner_slug = models.SlugField(max_length=100)
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="checklists"
    )
    files_touched = models.TextField(
        blank=True, help_text="Files the rollout changed, one path per line (for the step note)."
    )
    follow_ups = models.TextField(
        blank=True, help_text="Follow-ups and risks found during the rollout, one per line."
    )
    imported_from = models.CharField(
        max_length=16,
        blank=True,
        help_text="Set when this checklist's evidence was imported from that deployment.",
    )
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["planner_slug", "environment__position"]
        constraints = [
            models.UniqueConstraint(
                fields=["planner_slug", "environment"], name="unique_rollout_checklist"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.planner_slug} / {self.environment.name}"

    @property
    def is_signed_off(self) -> bool:
        return hasattr(self, "sign_off")


class ItemStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    WAIVED = "waived", "Waived"


class CheckedVia(models.TextChoices):
    CONSOLE = "console", "Console"
    ADMIN = "admin", "Admin"
    COMMAND = "command", "Command"
    IMPORT = "import", "Import"
    SIGN_OFF = "sign-off", "Sign-off"


def done_items(prefix: str = "") -> models.Q:
    """Items that count as done (see ``ChecklistItem.is_done``), for filters and annotations;
    ``prefix`` is the relation path from the queried model, e.g. ``"items__"``."""
    return models.Q(**{f"{prefix}status": ItemStatus.PASSED}) | models.Q(
        **{f"{prefix}status": ItemStatus.WAIVED, f"{prefix}verification": ""}
    )


def evidence_upload_path(item: ChecklistItem, filename: str) -> str:
    checklist = item.checklist
    return f"rollouts/{checklist.planner_slug}/{checklist.environment.name}/{item.key}/{filename}"


class ChecklistItem(models.Model):
    """One runbook box. ``verification`` names the system check that may pass it, if any."""

    checklist = models.ForeignKey(RolloutChecklist, on_delete=models.CASCADE, related_name="items")
    key = models.SlugField(max_length=64)
    position = models.PositiveSmallIntegerField()
    section = models.CharField(max_length=100)
    title = models.CharField(max_length=300)
    guidance = models.TextField(blank=True)
    required = models.BooleanField(default=True)
    verification = models.CharField(
        max_length=32, blank=True, help_text="System check that verifies this item, if any."
    )
    status = models.CharField(max_length=16, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    evidence_text = models.TextField(blank=True)
    evidence_link = models.URLField(max_length=1000, blank=True)
    evidence_file = models.FileField(upload_to=evidence_upload_path, max_length=500, blank=True)
    evidence_snapshot = models.JSONField(
        default=dict, blank=True, help_text="What the system saw when it verified this item."
    )
    waiver_reason = models.TextField(blank=True)
    checked_by = models.CharField(max_length=150, blank=True)
    checked_via = models.CharField(max_length=16, choices=CheckedVia.choices, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["checklist", "position"]
        constraints = [
            models.UniqueConstraint(fields=["checklist", "key"], name="unique_checklist_item"),
            models.CheckConstraint(
                condition=~models.Q(status="waived") | ~models.Q(waiver_reason=""),
                name="waiver_needs_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_done(self) -> bool:
        # A waiver on a system-verified item (written before they were refused) counts for
        # nothing: those items pass only by verification.
        return self.status == ItemStatus.PASSED or (
            self.status == ItemStatus.WAIVED and not self.system_verified
        )

    @property
    def system_verified(self) -> bool:
        return bool(self.verification)

    def clean(self) -> None:
        if self.status == ItemStatus.WAIVED and not self.waiver_reason.strip():
            raise ValidationError({"waiver_reason": "A waiver needs a reason."})


class SignOffImmutable(Exception):
    """A sign-off is a record of what happened: it is never edited or deleted."""


class SignOffQuerySet(models.QuerySet["SignOff"]):
    def update(self, **kwargs: Any) -> int:
        raise SignOffImmutable("Sign-offs cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise SignOffImmutable("Sign-offs cannot be deleted.")


class SignOff(models.Model):
    """The owner's sign-off of one checklist. Written once by ``sign_off`` (or an import)."""

    checklist = models.OneToOneField(
        RolloutChecklist, on_delete=models.PROTECT, related_name="sign_off"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rollout_sign_offs",
        help_text="Empty for a sign-off imported from another deployment.",
    )
    owner_name = models.CharField(max_length=150)
    deployment_date = models.DateField()
    note = models.TextField(blank=True)
    imported_from = models.CharField(max_length=16, blank=True)
    signed_at = models.DateTimeField()

    objects: ClassVar[models.Manager[SignOff]] = SignOffQuerySet.as_manager()

    class Meta:
        ordering = ["-signed_at"]

    def __str__(self) -> str:
        return f"{self.checklist} signed off by {self.owner_name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise SignOffImmutable("Sign-offs cannot be changed once written.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise SignOffImmutable("Sign-offs cannot be deleted.")


class WatchResult(models.TextChoices):
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    INCONCLUSIVE = "inconclusive", "Inconclusive"


class RolloutWatch(models.Model):
    """The watch a sign-off starts: the planner's live runs and alerts in that environment are
    watched until ``ends_at``; the result is recorded then (``planners.rollouts.watch``)."""

    checklist = models.OneToOneField(
        RolloutChecklist, on_delete=models.CASCADE, related_name="watch"
    )
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    min_runs = models.PositiveIntegerField()
    result = models.CharField(max_length=16, choices=WatchResult.choices, blank=True)
    runs = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    alerts = models.JSONField(
        default=list, blank=True, help_text="Alerts about the planner seen during the watch."
    )
    recorded_at = models.DateTimeField(null=True, blank=True)
    imported_from = models.CharField(max_length=16, blank=True)

    class Meta:
        indexes = [models.Index(fields=["result", "ends_at"], name="rolloutwatch_due")]

    def __str__(self) -> str:
        return f"watch of {self.checklist}"
