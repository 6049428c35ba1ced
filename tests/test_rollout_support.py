"""Shared pieces of the rollout tests: the Vision planner's live evidence, made for real.

Each helper writes the rows the real product writes (seeded templates, a scripted planner run,
an acknowledged synthetic alert), so the system checks read genuine data.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from cognition.agents.scripted import ScriptedAgent
from cognition.seeding import seed_planner_templates
from opsalerts.models import Alert
from planners.framework.catalog import catalog
from planners.framework.context import PlannerContext
from planners.models import PlannerExecution
from planners.models.rollout import ItemStatus, RolloutChecklist
from planners.rollouts import actions

PLANNER = "vision"
WEBHOOK = "http://127.0.0.1:9/ops-hook"


def seed_vision_template() -> None:
    seed_planner_templates([catalog.get(PLANNER)])


def enable_ops_alerting(settings: Any) -> None:
    settings.OPS_ALERTING_ENABLED = True
    settings.OPS_ALERTING_WEBHOOK_URL = WEBHOOK


def run_vision_scripted() -> PlannerExecution:
    """One real Vision planner run with the scripted agent's default (valid) reply."""
    planner = catalog.get(PLANNER)
    context = PlannerContext.create(ScriptedAgent(), phase="vision", actor="tests")
    result = planner.plan(context, {"projectTitle": "The Salt Road", "logline": "A caravan."})
    assert result.outcome == "success", result.error
    assert result.execution is not None
    return result.execution


def acknowledged_synthetic_alert(
    *, planner: str = PLANNER, environment: str = "dev", acknowledged_at: datetime | None = None
) -> Alert:
    """A synthetic ``backlog:stale`` alert for ``planner`` acknowledged through its ack link."""
    now = timezone.now()
    at = acknowledged_at or now - timedelta(minutes=5)
    return Alert.objects.create(
        dedup_key=f"backlog:stale:synthetic:{planner}@{environment}",
        alert_id=f"backlog:stale:synthetic:{planner}",
        environment=environment,
        status=Alert.Status.ACKNOWLEDGED,
        severity="warning",
        title="Stale backlog (synthetic)",
        planner_slug=planner,
        synthetic=True,
        first_seen=at - timedelta(minutes=1),
        last_seen=at,
        acknowledged_at=at,
        acknowledged_by="oncall@ops",
        acknowledged_via=Alert.Channel.LINK,
    )


def make_live_evidence(settings: Any) -> None:
    """Everything the five system checks look for, in the current (dev) environment."""
    seed_vision_template()
    enable_ops_alerting(settings)
    run_vision_scripted()
    acknowledged_synthetic_alert()


def pass_manual_items(checklist: RolloutChecklist, *, actor: str = "olivia") -> None:
    """Mark every required item the system does not verify as passed, with a note."""
    for item in checklist.items.filter(required=True, verification=""):
        actions.mark_item(item, status=ItemStatus.PASSED, actor=actor, note="Checked by hand.")


def waive_system_items(checklist: RolloutChecklist, *, actor: str = "olivia") -> None:
    for item in checklist.items.filter(required=True).exclude(verification=""):
        actions.mark_item(
            item, status=ItemStatus.WAIVED, actor=actor, waiver_reason="Verified on staging host."
        )


def signed_off_dev(owner: User) -> RolloutChecklist:
    """vision/dev with every required item done (system items waived) and signed off."""
    checklist, _ = actions.get_or_create_checklist(PLANNER, "dev", actor=owner.username)
    pass_manual_items(checklist)
    waive_system_items(checklist)
    actions.sign_off(
        checklist, owner=owner, deployment_date=timezone.localdate(), note="dev is good."
    )
    return checklist
