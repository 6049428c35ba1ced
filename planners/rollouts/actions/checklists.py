"""Checklists and their items: lookups, opening a checklist, marking, waiving, evidence by hand."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from planners.framework.catalog import catalog
from planners.framework.metadata import PlannerMetadata
from planners.models import ActionLogEntry
from planners.models.rollout import (
    CheckedVia,
    ChecklistItem,
    Environment,
    ItemStatus,
    RolloutChecklist,
    SignOff,
)
from planners.rollouts import runbook
from planners.rollouts.actions.errors import ChecklistLocked, ItemChangeRefused, RolloutError

logger = logging.getLogger(__name__)
# --- lookups ---------------------------------------------------------------------------------


def ensure_environments() -> list[Environment]:
    """The environments, creating the default three if a database lacks them (a flushed test
    database, or one migrated before they existed)."""
    environments = list(Environment.objects.order_by("position"))
    if environments:
        return environments
    for position, name in enumerate(settings.DEPLOY_ENVIRONMENTS, start=1):
        Environment.objects.get_or_create(name=name, defaults={"position": position})
    return list(Environment.objects.order_by("position"))


def get_environment(name: str) -> Environment:
    environments = {env.name: env for env in ensure_environments()}
    if name not in environments:
        raise RolloutError(
            f"Unknown environment {name!r}; environments: {', '.join(environments)}."
        )
    return environments[name]


def planner_metadata(slug: str) -> PlannerMetadata:
    """The registered planner's metadata; ``UnknownPlannerError`` names the known slugs."""
    return catalog.get(slug).metadata


def checklist_url(checklist: RolloutChecklist) -> str:
    return reverse("rollouts:checklist", args=[checklist.planner_slug, checklist.environment.name])


def log_change(action: str, checklist: RolloutChecklist, actor: str, **detail: Any) -> None:
    ActionLogEntry.objects.create(
        action=action,
        actor=actor,
        target=f"rollout {checklist}",
        target_url=checklist_url(checklist),
        detail={"checklist_id": checklist.pk, **detail},
        environment=settings.DEPLOY_ENVIRONMENT,
    )


def ensure_open(checklist: RolloutChecklist) -> None:
    if SignOff.objects.filter(checklist=checklist).exists():
        raise ChecklistLocked(f"{checklist} is signed off; its items no longer change.")


# --- checklists and items --------------------------------------------------------------------


def create_runbook_items(checklist: RolloutChecklist) -> list[ChecklistItem]:
    """The runbook's items for a new checklist (the admin's add form uses this too)."""
    return ChecklistItem.objects.bulk_create(
        ChecklistItem(
            checklist=checklist,
            key=item.key,
            position=position,
            section=item.section,
            title=item.title,
            guidance=item.guidance,
            required=item.required,
            verification=item.verification,
        )
        for position, item in enumerate(runbook.RUNBOOK_ITEMS, start=1)
    )


@transaction.atomic
def get_or_create_checklist(
    planner_slug: str,
    environment: str | Environment,
    *,
    actor: str = "",
    require_registered: bool = True,
) -> tuple[RolloutChecklist, bool]:
    """The checklist for (planner, environment), created from the runbook's items if new.

    ``require_registered=False`` lets ``startplanner`` open the checklist of a planner it has just
    written but this process has not imported.
    """
    if require_registered:
        planner_metadata(planner_slug)
    env = environment if isinstance(environment, Environment) else get_environment(environment)
    checklist, created = RolloutChecklist.objects.get_or_create(
        planner_slug=planner_slug, environment=env, defaults={"created_by": actor}
    )
    if created:
        create_runbook_items(checklist)
        log_change("rollout-start", checklist, actor)
        logger.info("rollout checklist %s created by %s", checklist, actor or "system")
    return checklist, created


def item_change_problem(
    item: ChecklistItem, *, status: str, current_status: str, waiver_reason: str
) -> str | None:
    """Why an item may not be set to ``status`` by hand (None when it may). Shared by
    ``mark_item`` and the admin's item form so both refuse the same things."""
    if status not in ItemStatus.values:
        return f"Unknown status {status!r}; choose one of: {', '.join(ItemStatus.values)}."
    if item.key == runbook.SIGN_OFF_ITEM_KEY and status != current_status:
        return "This item is completed by signing off the checklist."
    if item.system_verified and status != current_status:
        return (
            f"“{item.title}” is verified by the system: it passes only when Verify finds the "
            f"evidence on the {item.checklist.environment.name} deployment (or its signed "
            "evidence is imported); it cannot be waived or marked by hand."
        )
    if status == ItemStatus.WAIVED and not waiver_reason.strip():
        return f"Waiving “{item.title}” needs a reason."
    return None


@transaction.atomic
def mark_item(
    item: ChecklistItem,
    *,
    status: str,
    actor: str,
    via: str = CheckedVia.CONSOLE,
    waiver_reason: str = "",
    note: str = "",
) -> ChecklistItem:
    """Set an item's status by hand, recording who and when.

    A system-verified item cannot be passed this way; a waiver needs a reason. Other fields
    already set on ``item`` (the admin's evidence edits) are saved with it.
    """
    checklist = item.checklist
    ensure_open(checklist)
    current = ChecklistItem.objects.values_list("status", flat=True).get(pk=item.pk)
    problem = item_change_problem(
        item, status=status, current_status=current, waiver_reason=waiver_reason
    )
    if problem:
        raise ItemChangeRefused(problem)
    item.status = status
    item.waiver_reason = waiver_reason.strip() if status == ItemStatus.WAIVED else ""
    if note.strip():
        item.evidence_text = note.strip()
    item.checked_by = actor
    item.checked_via = via
    item.checked_at = timezone.now()
    item.save()
    log_change("rollout-mark", checklist, actor, item=item.key, status=status, via=via)
    return item


@transaction.atomic
def attach_evidence(
    item: ChecklistItem,
    *,
    actor: str,
    via: str = CheckedVia.CONSOLE,
    text: str = "",
    link: str = "",
    upload: File[Any] | None = None,
) -> ChecklistItem:
    """Add evidence (text, a link, an uploaded file) to an item without changing its status."""
    checklist = item.checklist
    ensure_open(checklist)
    if not (text.strip() or link.strip() or upload):
        raise ItemChangeRefused("Attach some evidence: a note, a link or a file.")
    if text.strip():
        item.evidence_text = text.strip()
    if link.strip():
        item.evidence_link = link.strip()
    if upload is not None:
        item.evidence_file.save(upload.name or "evidence", upload, save=False)
    item.checked_by = actor
    item.checked_via = via
    item.checked_at = timezone.now()
    try:
        item.full_clean(exclude=["checklist"])
    except ValidationError as exc:
        raise ItemChangeRefused("; ".join(exc.messages)) from exc
    item.save()
    log_change("rollout-evidence", checklist, actor, item=item.key, via=via)
    return item


@transaction.atomic
def record_step_notes(
    checklist: RolloutChecklist, *, files_touched: str, follow_ups: str, actor: str
) -> RolloutChecklist:
    """Record the files the rollout touched and its follow-ups (for the step note)."""
    ensure_open(checklist)
    checklist.files_touched = "\n".join(_clean_lines(files_touched))
    checklist.follow_ups = "\n".join(_clean_lines(follow_ups))
    checklist.save(update_fields=["files_touched", "follow_ups", "updated_at"])
    log_change("rollout-notes", checklist, actor)
    return checklist


def _clean_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]
