"""Signing off a checklist: what stands in the way, and recording the owner's sign-off."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser, User
from django.db import transaction
from django.utils import timezone

from planners.models.rollout import (
    CheckedVia,
    ChecklistItem,
    Environment,
    ItemStatus,
    RolloutChecklist,
    SignOff,
)
from planners.rollouts import runbook
from planners.rollouts.actions.checklists import log_change
from planners.rollouts.actions.errors import SignOffRefused

logger = logging.getLogger(__name__)


def previous_environment(environment: Environment) -> Environment | None:
    return (
        Environment.objects.filter(position__lt=environment.position).order_by("-position").first()
    )


def sign_off_problems(
    checklist: RolloutChecklist,
    signer: AbstractBaseUser | None,
    *,
    items: Sequence[ChecklistItem] | None = None,
) -> list[str]:
    """Why ``signer`` cannot sign off ``checklist`` now (empty when they can).

    ``signer=None`` checks everything but the signer (what the console shows before anyone
    presses the button).
    """
    problems: list[str] = []
    existing: SignOff | None = getattr(checklist, "sign_off", None)
    if existing is not None:
        return [f"already signed off by {existing.owner_name} on {existing.deployment_date}"]
    items = list(checklist.items.all()) if items is None else items
    missing = [i.title for i in items if i.required and not i.is_done]
    if missing:
        problems.append(
            f"{len(missing)} required item{'s' if len(missing) != 1 else ''} not passed or "
            "waived: " + ", ".join(missing)
        )
    previous = previous_environment(checklist.environment)
    if (
        previous is not None
        and not SignOff.objects.filter(
            checklist__planner_slug=checklist.planner_slug, checklist__environment=previous
        ).exists()
    ):
        problems.append(
            f"{previous.name} must be signed off for {checklist.planner_slug} before "
            f"{checklist.environment.name}"
        )
    if signer is not None and not checklist.environment.allows_signer(signer):
        problems.append(
            f"{signer.get_username()} is not allowed to sign off {checklist.environment.name}"
            " (ask someone listed as its signer, or in its signer group)"
        )
    return problems


@transaction.atomic
def sign_off(
    checklist: RolloutChecklist,
    *,
    owner: User,
    deployment_date: dt.date,
    note: str = "",
    via: str = CheckedVia.CONSOLE,
) -> SignOff:
    """Record the owner's sign-off, or raise ``SignOffRefused`` listing every reason why not."""
    # Lock the checklist row so two sign-offs (or a sign-off and an edit) cannot interleave.
    checklist = (
        RolloutChecklist.objects.select_for_update()
        .select_related("environment")
        .get(pk=checklist.pk)
    )
    problems = sign_off_problems(checklist, owner)
    if problems:
        raise SignOffRefused(checklist, problems)
    now = timezone.now()
    record = SignOff.objects.create(
        checklist=checklist,
        owner=owner,
        owner_name=owner.get_username(),
        deployment_date=deployment_date,
        note=note.strip(),
        signed_at=now,
    )
    checklist.items.filter(key=runbook.SIGN_OFF_ITEM_KEY).update(
        status=ItemStatus.PASSED,
        evidence_text=f"Signed off by {record.owner_name}; deployed {deployment_date}.",
        evidence_snapshot={
            "owner": record.owner_name,
            "deployment_date": deployment_date.isoformat(),
            "signed_at": now.isoformat(),
        },
        checked_by=record.owner_name,
        checked_via=CheckedVia.SIGN_OFF,
        checked_at=now,
    )
    log_change(
        "sign-off",
        checklist,
        record.owner_name,
        via=via,
        deployment_date=deployment_date.isoformat(),
        note=record.note,
    )
    logger.info("rollout %s signed off by %s", checklist, record.owner_name)
    return record
