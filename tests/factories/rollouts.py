"""Rollouts: the Vision planner's live evidence, made for real, and checklists ready to sign off."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from cognition.agents.scripted import ScriptedAgent
from cognition.seeding import seed_planner_templates
from opsalerts.ack import ack_url_for
from opsalerts.models import Alert, Delivery, DeliveryAttempt
from planners.framework.catalog import catalog
from planners.framework.context import PlannerContext
from planners.models import PlannerExecution
from planners.models.rollout import (
    ItemStatus,
    RolloutChecklist,
    RolloutWatch,
)
from planners.rollouts import actions
from planners.rollouts.watch import record_ended_watches
from tests.factories.backlog import seed_templates
from tests.servers import SIGNING_SECRET

PLANNER = "vision"
#: The product's evidence key in tests, and another product's.
EVIDENCE_KEY = "planner-ops-test-evidence-key-0123456789"
OTHER_EVIDENCE_KEY = "another-products-evidence-key-9876543210"
WEBHOOK = "http://127.0.0.1:9/ops-hook"


def seed_vision_template() -> None:
    seed_planner_templates([catalog.get(PLANNER)])


def enable_ops_alerting(settings: Any) -> None:
    settings.OPS_ALERTING_ENABLED = True
    settings.OPS_ALERTING_WEBHOOK_URL = WEBHOOK
    settings.OPS_ALERTING_ROUTING_KEY = "planner-ops"
    settings.OPS_ALERTING_SIGNING_SECRET = SIGNING_SECRET


def run_vision_scripted() -> PlannerExecution:
    """One real Vision planner run with the scripted agent's default (valid) reply."""
    planner = catalog.get(PLANNER)
    context = PlannerContext.create(ScriptedAgent(), phase="vision", actor="tests")
    result = planner.plan(context, {"projectTitle": "The Salt Road", "logline": "A caravan."})
    assert result.outcome == "success", result.error
    assert result.execution is not None
    return result.execution


def acknowledged_synthetic_alert(
    *,
    planner: str = PLANNER,
    environment: str = "dev",
    acknowledged_at: datetime | None = None,
    via: str = Alert.Channel.LINK,
    response_code: int = 200,
) -> Alert:
    """A synthetic ``backlog:stale`` alert for ``planner``, delivered to the default route (a
    recorded attempt answered ``response_code``) with its ack link in the payload, and
    acknowledged through ``via``."""
    now = timezone.now()
    at = acknowledged_at or now - timedelta(minutes=5)
    alert = Alert.objects.create(
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
        acknowledged_via=via,
    )
    delivered = 200 <= response_code < 300
    delivery = Delivery.objects.create(
        route="default webhook",
        webhook_url=WEBHOOK,
        routing_key="planner-ops",
        webhook_id=f"msg_{alert.pk}_{environment}",
        payload={
            "routing_key": "planner-ops",
            "alerts": [{"dedup_key": alert.dedup_key, "ack_url": ack_url_for(alert)}],
        },
        status=Delivery.Status.SENT if delivered else Delivery.Status.DEAD,
        attempts=1,
        response_code=response_code,
        sent_at=at - timedelta(seconds=30) if delivered else None,
    )
    delivery.alerts.add(alert)
    DeliveryAttempt.objects.create(delivery=delivery, number=1, response_code=response_code)
    return alert


def make_live_evidence(settings: Any) -> None:
    """Everything the system checks look for, in the current environment."""
    seed_templates()
    enable_ops_alerting(settings)
    run_vision_scripted()
    environment = settings.DEPLOY_ENVIRONMENT
    if not Alert.objects.filter(synthetic=True, planner_slug=PLANNER, environment=environment):
        acknowledged_synthetic_alert(environment=environment)


def pass_manual_items(checklist: RolloutChecklist, *, actor: str = "olivia") -> None:
    """Mark every required item the system does not verify as passed, with a note."""
    for item in checklist.items.filter(required=True, verification=""):
        actions.mark_item(item, status=ItemStatus.PASSED, actor=actor, note="Checked by hand.")


def verified_checklist(settings: Any, environment: str = "dev") -> RolloutChecklist:
    """vision's checklist for ``environment``, on that environment's deployment, with live
    evidence verified and every manual item passed: ready to sign off."""
    settings.DEPLOY_ENVIRONMENT = environment
    make_live_evidence(settings)
    checklist, _ = actions.get_or_create_checklist(PLANNER, environment, actor="olivia")
    pass_manual_items(checklist)
    run = actions.verify_checklist(checklist, actor="olivia")
    assert run.passed, {name: result.summary for name, result in run.results.items()}
    return checklist


def signed_off_dev(owner: User, settings: Any) -> RolloutChecklist:
    """vision/dev verified on the dev deployment and signed off (its watch running)."""
    checklist = verified_checklist(settings, "dev")
    actions.sign_off(
        checklist, owner=owner, deployment_date=timezone.localdate(), note="dev is good."
    )
    return checklist


def pass_watch(checklist: RolloutChecklist) -> None:
    """Enough healthy runs during the checklist's watch, then the watch ends and is recorded."""
    watch = RolloutWatch.objects.get(checklist=checklist)
    for _ in range(watch.min_runs):
        run_vision_scripted()
    assert record_ended_watches(now=watch.ends_at + timedelta(seconds=1)) == 1
