"""Every write to rollout records: the console, the admin and the commands all call these.

The rules of the runbook live here, once: a system-verified item is passed by its check (or an
import of evidence gathered where the check ran), never by hand; a waiver needs a reason; a
signed-off checklist no longer changes; a sign-off needs every required item passed or waived,
the previous environment signed off, and a signer allowed for the environment.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, User
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from pydantic import ValidationError as PydanticValidationError

from opsalerts.actions import OpsAlertingError, SyntheticResult, trigger_synthetic_alert
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
from planners.rollouts.evidence import EvidenceFile
from planners.rollouts.verification import CheckResult, run_checks

logger = logging.getLogger(__name__)


class RolloutError(Exception):
    """A rollout rule refused the request; the message says why, for people."""


class ChecklistLocked(RolloutError):
    pass


class ItemChangeRefused(RolloutError):
    pass


class VerificationRefused(RolloutError):
    pass


class EvidenceImportRefused(RolloutError):
    pass


class SignOffRefused(RolloutError):
    def __init__(self, checklist: RolloutChecklist, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__(f"Cannot sign off {checklist}: " + "; ".join(self.reasons))


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


def _log(action: str, checklist: RolloutChecklist, actor: str, **detail: Any) -> None:
    ActionLogEntry.objects.create(
        action=action,
        actor=actor,
        target=f"rollout {checklist}",
        target_url=checklist_url(checklist),
        detail={"checklist_id": checklist.pk, **detail},
        environment=settings.DEPLOY_ENVIRONMENT,
    )


def _ensure_open(checklist: RolloutChecklist) -> None:
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
        _log("rollout-start", checklist, actor)
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
    if status == ItemStatus.PASSED and item.system_verified and current_status != ItemStatus.PASSED:
        return (
            f"“{item.title}” is verified by the system: run Verify on the "
            f"{item.checklist.environment.name} deployment (or import its evidence), or waive "
            "it with a reason."
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
    _ensure_open(checklist)
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
    _log("rollout-mark", checklist, actor, item=item.key, status=status, via=via)
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
    _ensure_open(checklist)
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
    _log("rollout-evidence", checklist, actor, item=item.key, via=via)
    return item


@transaction.atomic
def record_step_notes(
    checklist: RolloutChecklist, *, files_touched: str, follow_ups: str, actor: str
) -> RolloutChecklist:
    """Record the files the rollout touched and its follow-ups (for the step note)."""
    _ensure_open(checklist)
    checklist.files_touched = "\n".join(_clean_lines(files_touched))
    checklist.follow_ups = "\n".join(_clean_lines(follow_ups))
    checklist.save(update_fields=["files_touched", "follow_ups", "updated_at"])
    _log("rollout-notes", checklist, actor)
    return checklist


def _clean_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class VerificationRun:
    checklist: RolloutChecklist
    results: dict[str, CheckResult]
    items: list[ChecklistItem]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results.values())


@transaction.atomic
def verify_checklist(
    checklist: RolloutChecklist,
    *,
    actor: str,
    via: str = CheckedVia.CONSOLE,
    now: dt.datetime | None = None,
) -> VerificationRun:
    """Run the system checks for the checklist's items and store each snapshot as evidence.

    Only this deployment's environment can be verified: its checks read this deployment's data.
    A failing check keeps an existing waiver (with the new snapshot) instead of erasing it.
    """
    env_name = checklist.environment.name
    if env_name != settings.DEPLOY_ENVIRONMENT:
        raise VerificationRefused(
            f"This deployment is {settings.DEPLOY_ENVIRONMENT}: verify {checklist} on the "
            f"{env_name} deployment, then bring its evidence here with import_rollout_evidence."
        )
    _ensure_open(checklist)
    planner = planner_metadata(checklist.planner_slug)
    items = list(checklist.items.exclude(verification=""))
    now = now or timezone.now()
    results = run_checks(planner, (item.verification for item in items), now=now)
    for item in items:
        result = results[item.verification]
        if result.passed:
            item.status = ItemStatus.PASSED
            item.waiver_reason = ""
        elif item.status != ItemStatus.WAIVED:
            item.status = ItemStatus.FAILED
        item.evidence_snapshot = result.snapshot
        item.evidence_text = result.summary
        item.checked_by = actor
        item.checked_via = via
        item.checked_at = now
    ChecklistItem.objects.bulk_update(
        items,
        [
            "status",
            "waiver_reason",
            "evidence_snapshot",
            "evidence_text",
            "checked_by",
            "checked_via",
            "checked_at",
        ],
    )
    RolloutChecklist.objects.filter(pk=checklist.pk).update(updated_at=now)
    _log(
        "rollout-verify",
        checklist,
        actor,
        via=via,
        command=f"python manage.py verify_rollout {checklist.planner_slug}"
        if via == CheckedVia.COMMAND
        else "",
        checks={name: r.passed for name, r in results.items()},
    )
    return VerificationRun(checklist, results, items)


def trigger_synthetic_alert_for(checklist: RolloutChecklist, *, actor: str) -> SyntheticResult:
    """Send the runbook's synthetic Ops alert for the checklist's planner from this deployment.

    Not atomic on purpose: the alert is evaluated and delivered over HTTP at once
    (``opsalerts.actions.trigger_synthetic_alert``); the acknowledgement then comes from the
    target channel, and Verify records it as evidence.
    """
    env_name = checklist.environment.name
    if env_name != settings.DEPLOY_ENVIRONMENT:
        raise VerificationRefused(
            f"This deployment is {settings.DEPLOY_ENVIRONMENT}: trigger the synthetic alert for "
            f"{checklist} on the {env_name} deployment."
        )
    _ensure_open(checklist)
    try:
        result = trigger_synthetic_alert(checklist.planner_slug, actor=actor)
    except OpsAlertingError as exc:
        raise RolloutError(str(exc)) from exc
    _log(
        "rollout-synthetic",
        checklist,
        actor,
        alert=result.alert.dedup_key if result.alert else "",
        delivered=result.delivery is not None,
        skipped=result.skipped_reason,
    )
    return result


# --- sign-off --------------------------------------------------------------------------------


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
    _log(
        "sign-off",
        checklist,
        record.owner_name,
        via=via,
        deployment_date=deployment_date.isoformat(),
        note=record.note,
    )
    logger.info("rollout %s signed off by %s", checklist, record.owner_name)
    return record


# --- evidence carried between deployments ----------------------------------------------------


@transaction.atomic
def import_evidence(
    data: Any, *, actor: str, into: RolloutChecklist | tuple[str, str] | None = None
) -> RolloutChecklist:
    """Record evidence exported by another deployment under its own environment's checklist.

    What carries over: each item's status, evidence text, link, snapshot, waiver reason and who
    checked it when (``checked_via`` becomes ``import``); the checklist's files touched and
    follow-ups; the sign-off (owner name, deployment date, note, time). Uploaded files stay on
    the deployment that has them: their names are noted in the item's evidence text. Items the
    file names but the checklist lacks are skipped and logged.
    """
    try:
        evidence = EvidenceFile.model_validate(data)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "file"
        raise EvidenceImportRefused(
            f"Not a rollout evidence file: {where}: {first['msg']}"
        ) from exc
    label = f"{evidence.planner} / {evidence.environment}"
    if isinstance(into, RolloutChecklist):
        into = (into.planner_slug, into.environment.name)
    if into is not None and into != (evidence.planner, evidence.environment):
        raise EvidenceImportRefused(
            f"This file holds evidence for {label}; it cannot go into {into[0]} / {into[1]}."
        )
    if evidence.environment == settings.DEPLOY_ENVIRONMENT:
        raise EvidenceImportRefused(
            f"This deployment is {settings.DEPLOY_ENVIRONMENT}: its own evidence is verified "
            f"here, not imported ({label})."
        )
    checklist, _ = get_or_create_checklist(evidence.planner, evidence.environment, actor=actor)
    checklist = RolloutChecklist.objects.select_for_update().get(pk=checklist.pk)
    if SignOff.objects.filter(checklist=checklist).exists():
        raise EvidenceImportRefused(
            f"{checklist} is already signed off here; it no longer changes."
        )
    items = {item.key: item for item in checklist.items.all()}
    skipped = [entry.key for entry in evidence.items if entry.key not in items]
    updated: list[ChecklistItem] = []
    for entry in evidence.items:
        item = items.get(entry.key)
        if item is None:
            continue
        item.status = entry.status
        text = entry.evidence_text
        if entry.evidence_file:
            text = (
                f"{text}\nFile kept on the {evidence.environment} deployment: {entry.evidence_file}"
            )
        item.evidence_text = text.strip()
        item.evidence_link = entry.evidence_link
        item.evidence_snapshot = entry.evidence_snapshot
        item.waiver_reason = entry.waiver_reason
        item.checked_by = entry.checked_by
        item.checked_at = entry.checked_at
        item.checked_via = CheckedVia.IMPORT
        updated.append(item)
    ChecklistItem.objects.bulk_update(
        updated,
        [
            "status",
            "evidence_text",
            "evidence_link",
            "evidence_snapshot",
            "waiver_reason",
            "checked_by",
            "checked_at",
            "checked_via",
        ],
    )
    checklist.files_touched = evidence.files_touched
    checklist.follow_ups = evidence.follow_ups
    checklist.imported_from = evidence.environment
    checklist.save(update_fields=["files_touched", "follow_ups", "imported_from", "updated_at"])
    if evidence.sign_off is not None:
        SignOff.objects.create(
            checklist=checklist,
            owner=None,
            owner_name=evidence.sign_off.owner_name,
            deployment_date=evidence.sign_off.deployment_date,
            note=evidence.sign_off.note,
            signed_at=evidence.sign_off.signed_at,
            imported_from=evidence.environment,
        )
    if skipped:
        logger.warning("evidence import into %s skipped unknown items: %s", checklist, skipped)
    _log(
        "rollout-import",
        checklist,
        actor,
        exported_at=evidence.exported_at.isoformat(),
        items=len(updated),
        skipped=skipped,
        signed_off=evidence.sign_off is not None,
    )
    return checklist
