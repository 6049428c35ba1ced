"""Evidence exported by another deployment, recorded under its own environment's checklist."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from pydantic import ValidationError as PydanticValidationError

from planners.models.rollout import (
    CheckedVia,
    ChecklistItem,
    RolloutChecklist,
    RolloutWatch,
    SignOff,
)
from planners.rollouts import runbook
from planners.rollouts.actions.checklists import get_or_create_checklist, log_change
from planners.rollouts.actions.errors import EvidenceImportRefused
from planners.rollouts.evidence import EvidenceFile
from planners.rollouts.signing import EvidenceSignatureError, check_signature

logger = logging.getLogger(__name__)


@transaction.atomic
def import_evidence(
    data: Any, *, actor: str, into: RolloutChecklist | tuple[str, str] | None = None
) -> RolloutChecklist:
    """Record evidence exported by another deployment under its own environment's checklist.

    What carries over: each item's status, evidence text, link, snapshot, waiver reason and who
    checked it when (``checked_via`` becomes ``import``); the checklist's files touched and
    follow-ups; the sign-off (owner name, deployment date, note, time). Uploaded files stay on
    the deployment that has them: their names are noted in the item's evidence text. Items the
    file names but the checklist lacks are skipped and logged. The sign-off's watch comes with
    it; a file exported again once that watch has ended brings its result to a checklist
    already imported, and changes nothing else.

    Refused, changing nothing: an unsigned file outside dev, a file signed with another key or
    altered since (``planners.rollouts.signing``), and a file that waives a system check.
    """
    try:
        signed = check_signature(data)
    except EvidenceSignatureError as exc:
        raise EvidenceImportRefused(str(exc)) from None
    evidence = _parse_evidence(data)
    _check_destination(evidence, into)
    _refuse_waived_system_items(evidence)
    updated_watch = _update_watch_of_signed_checklist(evidence, actor=actor)
    if updated_watch is not None:
        return updated_watch
    checklist = _open_checklist_for_import(evidence, actor=actor)
    items = {item.key: item for item in checklist.items.all()}
    skipped = [entry.key for entry in evidence.items if entry.key not in items]
    updated = _copy_items(evidence, items)
    _copy_checklist_notes(evidence, checklist)
    if evidence.sign_off is not None:
        _copy_sign_off(evidence, checklist)
        _copy_watch(evidence, checklist)
    if skipped:
        logger.warning("evidence import into %s skipped unknown items: %s", checklist, skipped)
    log_change(
        "rollout-import",
        checklist,
        actor,
        exported_at=evidence.exported_at.isoformat(),
        items=len(updated),
        skipped=skipped,
        signed_off=evidence.sign_off is not None,
        signed=signed,
        watch=evidence.watch.state if evidence.watch else "",
    )
    return checklist


def _refuse_waived_system_items(evidence: EvidenceFile) -> None:
    system_keys = {item.key for item in runbook.RUNBOOK_ITEMS if item.verification}
    waived = [e.key for e in evidence.items if e.key in system_keys and e.status == "waived"]
    if waived:
        raise EvidenceImportRefused(
            f"The file waives system-verified items ({', '.join(waived)}): they pass only by "
            "verification, never by waiver."
        )


def _copy_watch(evidence: EvidenceFile, checklist: RolloutChecklist) -> None:
    watch = evidence.watch
    if watch is None:
        return
    final = watch.state != "watching"
    RolloutWatch.objects.update_or_create(
        checklist=checklist,
        defaults={
            "started_at": watch.started_at,
            "ends_at": watch.ends_at,
            "min_runs": watch.min_runs,
            "result": watch.state if final else "",
            "runs": watch.runs,
            "failures": watch.failures,
            "alerts": watch.alerts,
            "recorded_at": timezone.now() if final else None,
            "imported_from": evidence.environment,
        },
    )


def _update_watch_of_signed_checklist(
    evidence: EvidenceFile, *, actor: str
) -> RolloutChecklist | None:
    """A checklist already imported with its sign-off takes only the watch's result from a
    later export of the same sign-off; None when this is not such a file."""
    record = (
        SignOff.objects.select_related("checklist__environment")
        .filter(
            checklist__planner_slug=evidence.planner,
            checklist__environment__name=evidence.environment,
        )
        .first()
    )
    if record is None or evidence.sign_off is None or evidence.watch is None:
        return None
    if record.signed_at != evidence.sign_off.signed_at or evidence.watch.state == "watching":
        return None
    checklist = record.checklist
    if RolloutWatch.objects.filter(checklist=checklist).exclude(result="").exists():
        return None
    _copy_watch(evidence, checklist)
    log_change("rollout-import", checklist, actor, watch=evidence.watch.state, items=0)
    return checklist


def _parse_evidence(data: Any) -> EvidenceFile:
    try:
        return EvidenceFile.model_validate(data)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "file"
        raise EvidenceImportRefused(
            f"Not a rollout evidence file: {where}: {first['msg']}"
        ) from exc


def _check_destination(
    evidence: EvidenceFile, into: RolloutChecklist | tuple[str, str] | None
) -> None:
    """Refuse a file meant for another checklist, or evidence this deployment verifies itself."""
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


def _open_checklist_for_import(evidence: EvidenceFile, *, actor: str) -> RolloutChecklist:
    """The evidence's checklist, locked for the import; refused once it is signed off."""
    checklist, _ = get_or_create_checklist(evidence.planner, evidence.environment, actor=actor)
    checklist = RolloutChecklist.objects.select_for_update().get(pk=checklist.pk)
    if SignOff.objects.filter(checklist=checklist).exists():
        raise EvidenceImportRefused(
            f"{checklist} is already signed off here; it no longer changes."
        )
    return checklist


def _copy_items(evidence: EvidenceFile, items: dict[str, ChecklistItem]) -> list[ChecklistItem]:
    """Copy each entry onto the checklist's item of the same key; entries without one are left."""
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
    return updated


def _copy_checklist_notes(evidence: EvidenceFile, checklist: RolloutChecklist) -> None:
    checklist.files_touched = evidence.files_touched
    checklist.follow_ups = evidence.follow_ups
    checklist.imported_from = evidence.environment
    checklist.save(update_fields=["files_touched", "follow_ups", "imported_from", "updated_at"])


def _copy_sign_off(evidence: EvidenceFile, checklist: RolloutChecklist) -> None:
    assert evidence.sign_off is not None
    SignOff.objects.create(
        checklist=checklist,
        owner=None,
        owner_name=evidence.sign_off.owner_name,
        deployment_date=evidence.sign_off.deployment_date,
        note=evidence.sign_off.note,
        signed_at=evidence.sign_off.signed_at,
        imported_from=evidence.environment,
    )
