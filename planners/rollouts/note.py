"""The runbook's step note, generated as Markdown from a checklist's records.

Section 2.3 of the runbook asks for a note per step: commands executed, files touched, evidence,
follow-ups and risks. Writing it by hand drifts from what happened; here it is read from the
checklist items, the action log entries the rollout actions wrote, and the sign-off.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.conf import settings
from django.utils import timezone

from planners.framework.catalog import catalog
from planners.framework.errors import UnknownPlannerError
from planners.models import ActionLogEntry
from planners.models.rollout import ChecklistItem, ItemStatus, RolloutChecklist, SignOff
from planners.rollouts import runbook
from planners.rollouts.actions import checklist_url, sign_off_problems
from planners.rollouts.queries import checklist_status

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


def _when(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "—"


def _item_line(item: ChecklistItem) -> list[str]:
    box = _BOX.get(ItemStatus(item.status), " ")
    tags = [] if item.required else ["optional"]
    if item.verification:
        tags.append(f"system check `{item.verification}`")
    suffix = f" _({', '.join(tags)})_" if tags else ""
    lines = [f"- [{box}] **{item.title}**{suffix} — {item.get_status_display().lower()}"]
    if item.checked_at:
        lines[0] += (
            f" by {item.checked_by or '?'} via {item.checked_via or '?'}, {_when(item.checked_at)}"
        )
    if item.status == ItemStatus.WAIVED:
        lines.append(f"  - Waiver: {item.waiver_reason}")
    for text in _lines(item.evidence_text):
        lines.append(f"  - {text}")
    if item.evidence_link:
        lines.append(f"  - Link: <{item.evidence_link}>")
    if item.evidence_file:
        lines.append(f"  - File: `{item.evidence_file.name}`")
    return lines


def _command_lines(entries: Iterable[ActionLogEntry]) -> list[str]:
    lines = []
    for entry in entries:
        detail = entry.detail or {}
        what = _ACTION_TEXT.get(entry.action, entry.action)
        if entry.action == "rollout-mark":
            what = f"Item `{detail.get('item', '?')}` marked {detail.get('status', '?')}"
        elif entry.action == "rollout-evidence":
            what = f"Evidence attached to `{detail.get('item', '?')}`"
        elif entry.action == "rollout-verify":
            checks = detail.get("checks", {})
            results = ", ".join(f"{k} {'passed' if v else 'failed'}" for k, v in checks.items())
            what = f"System checks run: {results}"
        command = detail.get("command") or ""
        via = detail.get("via") or ""
        how = f" — `{command}`" if command else (f" (via {via})" if via else "")
        lines.append(f"- {_when(entry.created_at)} · {entry.actor or 'system'}: {what}{how}")
    return lines


def render_step_note(checklist: RolloutChecklist) -> str:
    """The Markdown step note for one checklist."""
    items = list(checklist.items.all())
    record = SignOff.objects.filter(checklist=checklist).first()
    entries = ActionLogEntry.objects.filter(target_url=checklist_url(checklist)).order_by(
        "created_at", "id"
    )
    try:
        planner_name = catalog.get(checklist.planner_slug).metadata.name
    except UnknownPlannerError:
        planner_name = checklist.planner_slug
    env = checklist.environment.name
    status = checklist_status(checklist, items)
    required = [i for i in items if i.required]
    done = sum(1 for i in required if i.is_done)

    out = [
        f"# Step note: {planner_name} (`{checklist.planner_slug}`) rollout to {env}",
        "",
        f"- Runbook: `{runbook.RUNBOOK_PATH}`, section 3 (Lower Environment Rollout)",
        f"- Status: **{status.label}** ({done}/{len(required)} required items passed or waived)",
        f"- Generated: {_when(timezone.now())} on the {settings.DEPLOY_ENVIRONMENT} deployment",
    ]
    if checklist.imported_from:
        out.append(f"- Evidence imported from the {checklist.imported_from} deployment")
    out += ["", "## Commands and checks run", ""]
    out += _command_lines(entries) or ["_None recorded._"]

    out += ["", "## Checklist and evidence", ""]
    section = None
    for item in items:
        if item.section != section:
            section = item.section
            out += ["", f"### {section}", ""] if out[-1] != "" else [f"### {section}", ""]
        out += _item_line(item)

    snapshots = [i for i in items if i.evidence_snapshot]
    if snapshots:
        out += ["", "## System evidence snapshots", ""]
        for item in snapshots:
            out += [
                f"<details><summary>{item.key}</summary>",
                "",
                "```json",
                json.dumps(item.evidence_snapshot, indent=2, sort_keys=True),
                "```",
                "",
                "</details>",
                "",
            ]

    out += ["", "## Files touched", ""]
    out += [f"- `{path}`" for path in _lines(checklist.files_touched)] or ["_None recorded._"]

    out += ["", "## Follow-ups", ""]
    follow_ups = [f"- {line}" for line in _lines(checklist.follow_ups)]
    follow_ups += [
        f"- {item.title} ({item.get_status_display().lower()})"
        for item in items
        if not item.is_done and item.key != runbook.SIGN_OFF_ITEM_KEY
    ]
    follow_ups += [f"- {line}" for line in runbook.POST_ROLLOUT_FOLLOW_UPS]
    out += follow_ups

    out += ["", "## Sign-off", ""]
    if record is not None:
        out += [
            f"- Owner: {record.owner_name}",
            f"- Deployment date: {record.deployment_date:%Y-%m-%d}",
            f"- Signed at: {_when(record.signed_at)}",
        ]
        if record.imported_from:
            out.append(f"- Recorded on the {record.imported_from} deployment (imported)")
        if record.note:
            out.append(f"- Note: {record.note}")
    else:
        out.append("Not signed off yet. Refused until:")
        out += [f"- {problem}" for problem in sign_off_problems(checklist, None, items=items)]
    return "\n".join(out).rstrip() + "\n"
