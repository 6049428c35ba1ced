"""The rollout gate of one planner in one environment: open or closed, and why, item by item.

``ok`` only when the environment is signed off and the watch its sign-off started has passed;
``inconclusive`` when the watch ended with too few runs to tell. The console's checklist page,
``GET /api/rollouts/<planner>/<environment>/gate`` and ``manage.py rollout_gate`` all read it
from here, so a deploy pipeline and a person see the same reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from planners.models.rollout import ChecklistItem, Environment, ItemStatus, RolloutChecklist
from planners.rollouts import runbook
from planners.rollouts.actions import get_environment, planner_metadata, sign_off_problems
from planners.rollouts.watch import WatchState, WatchStatus, watch_state

_WATCH_CHECK_STATUS = {
    WatchState.NOT_STARTED: "pending",
    WatchState.WATCHING: "pending",
    WatchState.PASSED: "passed",
    WatchState.FAILED: "failed",
    WatchState.INCONCLUSIVE: "inconclusive",
}


@dataclass(frozen=True)
class GateCheck:
    key: str
    title: str
    status: str  # passed | failed | waived | pending | inconclusive
    detail: str
    required: bool = True
    runbook_section: str = ""

    @property
    def runbook_anchor(self) -> str:
        return runbook.heading_anchor(self.runbook_section) if self.runbook_section else ""

    @property
    def blocks(self) -> bool:
        return self.required and self.status not in ("passed", "waived")

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "required": self.required,
            "runbook": runbook.section_link(self.runbook_section) if self.runbook_section else "",
        }


@dataclass(frozen=True)
class Gate:
    planner: str
    environment: str
    signed_off: bool
    watch: WatchStatus
    checks: list[GateCheck] = field(default_factory=list)
    sign_off_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.signed_off and self.watch.state == WatchState.PASSED

    @property
    def inconclusive(self) -> bool:
        return self.watch.state == WatchState.INCONCLUSIVE

    @property
    def blocking(self) -> list[GateCheck]:
        return [check for check in self.checks if check.blocks]

    def to_dict(self) -> dict[str, Any]:
        return {
            "planner": self.planner,
            "environment": self.environment,
            "ok": self.ok,
            "inconclusive": self.inconclusive,
            "signed_off": self.signed_off,
            "watch": self.watch.to_dict(),
            "checks": [check.to_dict() for check in self.checks],
            "sign_off_problems": self.sign_off_problems,
        }


def _item_detail(item: ChecklistItem, environment: str) -> tuple[str, str]:
    """The item's gate status and, in plain words, what it shows or what it still needs."""
    who = f"{item.checked_by or 'someone'}"
    if item.status == ItemStatus.PASSED:
        return "passed", item.evidence_text.splitlines()[0] if item.evidence_text else "Passed."
    if item.status == ItemStatus.WAIVED:
        if item.system_verified:
            return "pending", (
                "A waiver does not count for a system check: it passes only when Verify finds "
                f"the evidence on the {environment} deployment."
            )
        return "waived", f"Waived by {who}: {item.waiver_reason}"
    if item.status == ItemStatus.FAILED:
        if item.system_verified:
            return "failed", item.evidence_text or "The system check failed."
        return "failed", f"Marked failed by {who}." + (
            f" {item.evidence_text}" if item.evidence_text else ""
        )
    if item.key == runbook.SIGN_OFF_ITEM_KEY:
        return "pending", "Not signed off yet."
    if item.system_verified:
        return "pending", (
            f"Not verified yet: run Verify (python manage.py verify_rollout "
            f"{item.checklist.planner_slug}) on the {environment} deployment."
        )
    return "pending", "Not checked yet: mark it passed with evidence, or waive it with a reason."


def _item_check(item: ChecklistItem, environment: str) -> GateCheck:
    status, detail = _item_detail(item, environment)
    return GateCheck(
        key=item.key,
        title=item.title,
        status=status,
        detail=detail,
        required=item.required,
        runbook_section=item.section,
    )


def _watch_check(watch: WatchStatus) -> GateCheck:
    return GateCheck(
        key="watch",
        title="Watch period after sign-off passed (runbook section 4).",
        status=_WATCH_CHECK_STATUS[watch.state],
        detail=watch.explanation[:1].upper() + watch.explanation[1:] + ".",
        runbook_section=runbook.WATCH,
    )


def gate_for_checklist(
    checklist: RolloutChecklist | None,
    *,
    planner: str,
    environment: Environment,
    items: list[ChecklistItem] | None = None,
    problems: list[str] | None = None,
    now: datetime | None = None,
) -> Gate:
    """The gate from a loaded checklist (the console passes its items and the sign-off
    problems it has already worked out for the person looking)."""
    now = now or timezone.now()
    if checklist is None:
        watch = WatchStatus(WatchState.NOT_STARTED, now=now)
        return Gate(
            planner,
            environment.name,
            False,
            watch,
            [_watch_check(watch)],
            [f"no checklist for {planner} in {environment.name} yet: start it from the runbook"],
        )
    items = list(checklist.items.all()) if items is None else items
    watch = watch_state(checklist, now=now)
    checks = [_item_check(item, environment.name) for item in items]
    checks.append(_watch_check(watch))
    if problems is None:
        signed = checklist.is_signed_off
        problems = [] if signed else sign_off_problems(checklist, None, items=items)
    return Gate(planner, environment.name, checklist.is_signed_off, watch, checks, problems)


def gate_for(planner_slug: str, environment_name: str) -> Gate:
    """The gate of (planner, environment); ``UnknownPlannerError`` or ``RolloutError`` for a
    planner or environment that does not exist."""
    slug = planner_metadata(planner_slug).slug
    environment = get_environment(environment_name)
    checklist = (
        RolloutChecklist.objects.select_related("environment", "sign_off", "watch")
        .filter(planner_slug=slug, environment=environment)
        .first()
    )
    return gate_for_checklist(checklist, planner=slug, environment=environment)
