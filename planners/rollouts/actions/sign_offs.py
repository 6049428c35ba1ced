"""Signing off a checklist: what stands in the way, and recording the owner's sign-off."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, User
from django.db import transaction
from django.utils import timezone

from cognition.build import build_info
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
from planners.rollouts.watch import WatchState, start_watch, watch_state

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
    """Why ``signer`` cannot sign off ``checklist`` now (empty when they can), in plain words.

    ``signer=None`` checks everything but the signer (what the console shows before anyone
    presses the button).
    """
    existing: SignOff | None = getattr(checklist, "sign_off", None)
    if existing is not None:
        return [f"already signed off by {existing.owner_name} on {existing.deployment_date}"]
    items = list(checklist.items.all()) if items is None else items
    problems = [
        *_deployment_problems(checklist),
        *_item_problems(items),
        *_previous_environment_problems(checklist),
    ]
    if signer is not None:
        problems.extend(_signer_problems(checklist, signer, items))
    return problems


def _deployment_problems(checklist: RolloutChecklist) -> list[str]:
    """An environment is signed off on its own deployment, where its evidence was gathered."""
    here = settings.DEPLOY_ENVIRONMENT
    if checklist.environment.name == here:
        return []
    return [
        f"this deployment is {here}: sign off {checklist.environment.name} on the "
        f"{checklist.environment.name} deployment (this one learns of it by importing its "
        "signed evidence)"
    ]


def _item_problems(items: Sequence[ChecklistItem]) -> list[str]:
    missing = [i.title.rstrip(".") for i in items if i.required and not i.is_done]
    if not missing:
        return []
    return [
        f"{len(missing)} required item{'s' if len(missing) != 1 else ''} not passed or "
        "waived: " + ", ".join(missing)
    ]


def _previous_environment_problems(checklist: RolloutChecklist) -> list[str]:
    previous = previous_environment(checklist.environment)
    if previous is None:
        return []
    slug = checklist.planner_slug
    earlier = (
        RolloutChecklist.objects.select_related("environment", "sign_off", "watch")
        .filter(planner_slug=slug, environment=previous)
        .first()
    )
    if earlier is None or not earlier.is_signed_off:
        return [
            f"{previous.name} must be signed off for {slug} before {checklist.environment.name}"
        ]
    state = watch_state(earlier)
    if state.state != WatchState.PASSED:
        return [f"{previous.name}'s watch has not passed for {slug}: {state.explanation}"]
    return []


def _signer_problems(
    checklist: RolloutChecklist, signer: AbstractBaseUser, items: Sequence[ChecklistItem]
) -> list[str]:
    problems: list[str] = []
    name = signer.get_username()
    if not checklist.environment.allows_signer(signer):
        problems.append(
            f"{name} is not allowed to sign off {checklist.environment.name}"
            " (ask someone listed as its signer, or in its signer group)"
        )
    own_waivers = [i.title for i in items if i.status == ItemStatus.WAIVED and i.checked_by == name]
    if own_waivers:
        problems.append(
            f"{name} waived {', '.join(own_waivers)}: the signer cannot be the person who "
            "waived an item (ask another signer)"
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
    build = build_info()
    record = SignOff.objects.create(
        checklist=checklist,
        owner=owner,
        owner_name=owner.get_username(),
        deployment_date=deployment_date,
        note=note.strip(),
        signed_at=now,
    )
    start_watch(checklist, started_at=now)
    checklist.items.filter(key=runbook.SIGN_OFF_ITEM_KEY).update(
        status=ItemStatus.PASSED,
        evidence_text=f"Signed off by {record.owner_name}; deployed {deployment_date}.",
        evidence_snapshot={
            "owner": record.owner_name,
            "deployment_date": deployment_date.isoformat(),
            "signed_at": now.isoformat(),
            "app_version": build.version,
            "app_build": build.build,
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
