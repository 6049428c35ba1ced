"""Verifying a checklist on this deployment, and the synthetic alert its runbook sends."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from opsalerts.actions import OpsAlertingError, SyntheticResult, trigger_synthetic_alert
from planners.models.rollout import (
    CheckedVia,
    ChecklistItem,
    ItemStatus,
    RolloutChecklist,
)
from planners.rollouts.actions.checklists import ensure_open, log_change, planner_metadata
from planners.rollouts.actions.errors import RolloutError, VerificationRefused
from planners.rollouts.check_types import CheckResult
from planners.rollouts.verification import run_checks


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
    A system-verified item passes or fails here only: it is never waived.
    """
    env_name = checklist.environment.name
    if env_name != settings.DEPLOY_ENVIRONMENT:
        raise VerificationRefused(
            f"This deployment is {settings.DEPLOY_ENVIRONMENT}: verify {checklist} on the "
            f"{env_name} deployment, then bring its evidence here with import_rollout_evidence."
        )
    ensure_open(checklist)
    planner = planner_metadata(checklist.planner_slug)
    items = list(checklist.items.exclude(verification=""))
    now = now or timezone.now()
    results = run_checks(planner, (item.verification for item in items), now=now)
    for item in items:
        result = results[item.verification]
        item.status = ItemStatus.PASSED if result.passed else ItemStatus.FAILED
        item.waiver_reason = ""
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
    log_change(
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
    ensure_open(checklist)
    try:
        result = trigger_synthetic_alert(checklist.planner_slug, actor=actor)
    except OpsAlertingError as exc:
        raise RolloutError(str(exc)) from exc
    log_change(
        "rollout-synthetic",
        checklist,
        actor,
        alert=result.alert.dedup_key if result.alert else "",
        delivered=result.delivery is not None,
        skipped=result.skipped_reason,
    )
    return result
