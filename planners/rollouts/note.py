"""The runbook's step note, generated as Markdown from a checklist's records.

Section 2.3 of the runbook asks for a note per step: commands executed, files touched, evidence,
follow-ups and risks. Writing it by hand drifts from what happened; here it is read from the
checklist items, the action log entries the rollout actions wrote, and the sign-off. This module
gathers the records; ``templates/rollouts/step_note.md`` lays them out.

User text (titles, evidence, waivers, follow-ups, the sign-off note) goes into the Markdown as
written, as it always has: the note is the operator's own record, read as text or in a viewer
that does not run inline HTML.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from cognition.build import build_info
from planners.framework.catalog import catalog
from planners.framework.errors import UnknownPlannerError
from planners.models import ActionLogEntry
from planners.models.rollout import ChecklistItem, ItemStatus, RolloutChecklist, SignOff
from planners.rollouts import runbook
from planners.rollouts.actions import checklist_url, sign_off_problems
from planners.rollouts.queries import checklist_status
from planners.rollouts.watch import watch_state

_BOX = {ItemStatus.PASSED: "x", ItemStatus.WAIVED: "~", ItemStatus.FAILED: "!"}
_ACTION_TEXT = {
    "rollout-start": "Checklist started from the runbook",
    "rollout-verify": "System checks run",
    "rollout-mark": "Item marked",
    "rollout-evidence": "Evidence attached",
    "rollout-import": "Evidence imported",
    "rollout-synthetic": "Synthetic Ops alert triggered",
    "rollout-notes": "Files touched and follow-ups recorded",
    "sign-off": "Signed off",
}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class NoteItem:
    """A checklist item with what its line in the note needs besides the row."""

    item: ChecklistItem
    section: str
    box: str
    evidence_lines: list[str]
    snapshot_json: str
    runbook_link: str


@dataclass(frozen=True)
class NoteEntry:
    """An action log entry of the checklist, as the "Commands and checks run" list shows it."""

    at: datetime
    actor: str
    action: str
    text: str
    item: str
    status: str
    checks: list[tuple[str, bool]]
    command: str
    via: str


def _note_item(item: ChecklistItem) -> NoteItem:
    snapshot = (
        json.dumps(item.evidence_snapshot, indent=2, sort_keys=True)
        if item.evidence_snapshot
        else ""
    )
    return NoteItem(
        item=item,
        section=item.section,
        box=_BOX.get(ItemStatus(item.status), " "),
        evidence_lines=_lines(item.evidence_text),
        snapshot_json=snapshot,
        runbook_link=runbook.section_link(item.section),
    )


def _note_entry(entry: ActionLogEntry) -> NoteEntry:
    detail: dict[str, Any] = entry.detail or {}
    return NoteEntry(
        at=entry.created_at,
        actor=entry.actor or "system",
        action=entry.action,
        text=_ACTION_TEXT.get(entry.action, entry.action),
        item=str(detail.get("item", "?")),
        status=str(detail.get("status", "?")),
        checks=[(name, bool(passed)) for name, passed in detail.get("checks", {}).items()],
        command=detail.get("command") or "",
        via=detail.get("via") or "",
    )


def _planner_name(slug: str) -> str:
    try:
        return str(catalog.get(slug).metadata.name)
    except UnknownPlannerError:
        return slug


def _snapshot_of(items: list[ChecklistItem], check: str) -> dict[str, Any]:
    """The snapshot of the passed item verified by ``check`` (empty when none passed)."""
    for item in items:
        if item.verification == check and item.status == ItemStatus.PASSED:
            return dict(item.evidence_snapshot or {})
    return {}


def deployment_evidence(items: list[ChecklistItem]) -> dict[str, Any]:
    """Which app build, prompt template versions and model the records say were signed off:
    the build from the sign-off, the templates and model from the checks that passed."""
    signed = next((i for i in items if i.key == runbook.SIGN_OFF_ITEM_KEY), None)
    signed_snapshot = dict(signed.evidence_snapshot or {}) if signed is not None else {}
    run = _snapshot_of(items, runbook.PIPELINE_RUN_COMPLETED)
    return {
        "signed_version": signed_snapshot.get("app_version", ""),
        "signed_build": signed_snapshot.get("app_build", ""),
        "templates": _snapshot_of(items, runbook.TEMPLATE_SEEDED).get("steps", []),
        "agent": " ".join(
            str(part) for part in (run.get("agent_provider"), run.get("agent_model")) if part
        ),
    }


def step_note_context(checklist: RolloutChecklist) -> dict[str, Any]:
    """What ``rollouts/step_note.md`` reads: the checklist's items, log entries and sign-off."""
    items = list(checklist.items.all())
    record = SignOff.objects.filter(checklist=checklist).first()
    entries = ActionLogEntry.objects.filter(target_url=checklist_url(checklist)).order_by(
        "created_at", "id"
    )
    note_items = [_note_item(item) for item in items]
    required = [i for i in items if i.required]
    return {
        "checklist": checklist,
        "planner_name": _planner_name(checklist.planner_slug),
        "environment": checklist.environment.name,
        "runbook_path": runbook.RUNBOOK_PATH,
        "runbook_rollout": runbook.section_link("3 Roll out, one environment at a time"),
        "runbook_watch": runbook.section_link(runbook.WATCH),
        "runbook_follow_ups": runbook.section_link(runbook.FOLLOW_UPS),
        "build_here": build_info(),
        "deployment": deployment_evidence(items),
        "watch": watch_state(checklist),
        "status": checklist_status(checklist, items),
        "done": sum(1 for i in required if i.is_done),
        "required_total": len(required),
        "generated_at": timezone.now(),
        "deploy_environment": settings.DEPLOY_ENVIRONMENT,
        "entries": [_note_entry(entry) for entry in entries],
        "items": note_items,
        "snapshots": [n for n in note_items if n.snapshot_json],
        "files_touched": _lines(checklist.files_touched),
        "follow_ups": _lines(checklist.follow_ups),
        "open_items": [i for i in items if not i.is_done and i.key != runbook.SIGN_OFF_ITEM_KEY],
        "post_rollout_follow_ups": runbook.POST_ROLLOUT_FOLLOW_UPS,
        "record": record,
        "problems": [] if record else sign_off_problems(checklist, None, items=items),
    }


def render_step_note(checklist: RolloutChecklist) -> str:
    """The Markdown step note for one checklist."""
    return render_to_string("rollouts/step_note.md", step_note_context(checklist)).rstrip() + "\n"
