"""A row of every kind the admin lists, each pointing at rows of its own."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import Group, User
from django.utils import timezone

from cognition.models import (
    AgentBackendLimit,
    ApiToken,
)
from opsalerts.models import Alert, AlertEvent, Delivery, DeliveryAttempt, Severity, Silence
from planners.fiction.phases import Phase
from planners.models import (
    ActionLogEntry,
    BacklogItem,
    BacklogTransition,
    CastMember,
    ChapterBlueprint,
    ChapterScene,
    ChapterScroll,
    ChapterSection,
    ContractDriftEvent,
    FictionItemTarget,
    FictionVision,
    LoreRequirement,
    PhaseCheckpoint,
    PhaseTranscript,
    Plan,
    PlannerExecution,
    PlannerOutcome,
    PlanPass,
    Project,
    TelemetryEvent,
)
from planners.models.rollout import (
    Environment,
    RolloutChecklist,
    SignOff,
)
from tests.factories.templates import make_template


def add_listed_records(start: int, count: int) -> None:
    """``count`` more rows of every kind an admin changelist shows, numbered from ``start``.

    Each row points at its own related rows (its own plan, item, template, user...), so a list
    that loads a relation per row costs one more query per row here.
    """
    now = timezone.now()
    for n in range(start, start + count):
        plan, item = _fiction_rows(n)
        _pipeline_rows(n, plan, item, now)
        _access_and_rollout_rows(n, now)
        _alerting_rows(n, now)


def _fiction_rows(n: int) -> tuple[Plan, BacklogItem]:
    """A plan with its vision, cast, pass, chapter down to one scene, lore, and the scene's
    backlog item with its target."""
    project = Project.objects.create(title=f"Tidewater {n:03d}")
    plan = Plan.objects.create(project=project, name=f"Tidewater {n:03d} main")
    FictionVision.objects.create(plan=plan, author_summary=f"Tides, volume {n}.")
    CastMember.objects.create(plan=plan, tier=CastMember.Tier.CORE, name=f"Keeper {n}")
    PlanPass.objects.create(plan=plan, iteration=1)
    blueprint = ChapterBlueprint.objects.create(plan=plan, slug=f"chapter-{n}")
    scroll = ChapterScroll.objects.create(plan=plan, blueprint=blueprint, scroll_slug=f"scroll-{n}")
    section = ChapterSection.objects.create(scroll=scroll, order=1, section_slug=f"tide-{n}")
    scene = ChapterScene.objects.create(section=section, order=1, scene_slug=f"night-{n}")
    LoreRequirement.objects.create(
        plan=plan, scroll=scroll, requirement_slug=f"lore-{n}", title=f"Lore {n}"
    )
    item = BacklogItem.objects.create(
        plan=plan, backlog_id=f"scene-night-{n}", phase=Phase.SCENE_WEAVER
    )
    FictionItemTarget.objects.create(
        item=item, blueprint=blueprint, scroll=scroll, section=section, scene=scene
    )
    return plan, item


def _pipeline_rows(n: int, plan: Plan, item: BacklogItem, now: datetime) -> None:
    """The item's transition, drift event, checkpoint, run, transcript, telemetry and log."""
    BacklogTransition.objects.create(
        item=item, plan=plan, from_status="pending", to_status="in_progress", reason="claim"
    )
    ContractDriftEvent.objects.create(item=item, plan=plan, requested={"model": "m"})
    PhaseCheckpoint.objects.create(
        plan=plan, phase_key=f"sceneWeaver|{n}", phase=Phase.SCENE_WEAVER, backlog_item=item
    )
    execution = PlannerExecution.objects.create(
        planner_slug="scene-weaver",
        outcome=PlannerOutcome.SUCCESS,
        environment="dev",
        correlation_id=f"run-scene-{n}",
        plan=plan,
        backlog_item=item,
        started_at=now,
        finished_at=now,
        template_id="planner.fiction.sceneWeaver",
        template_version=1,
    )
    PhaseTranscript.objects.create(
        plan=plan, phase=Phase.SCENE_WEAVER, backlog_item=item, execution=execution
    )
    TelemetryEvent.objects.create(
        name="planner.completed",
        planner_slug="scene-weaver",
        execution=execution,
        correlation_id=f"run-scene-{n}",
        environment="dev",
    )
    ActionLogEntry.objects.create(action="resume", actor="olivia", target=f"scene-night-{n}")


def _access_and_rollout_rows(n: int, now: datetime) -> None:
    """A template, a user with an API token, a provider's limit and a signed-off checklist."""
    make_template(f"planner.test.tide{n}", f"Write night {n}.")
    user = User.objects.create_user(username=f"keeper-{n}")
    ApiToken.objects.create(user=user, prefix=f"tok{n}", token_hash=f"{n:064d}")
    AgentBackendLimit.objects.create(
        backend=f"tide-backend-{n}", leases={f"lease-{n}": now.timestamp() + 60}
    )

    group = Group.objects.create(name=f"tide-signers-{n}")
    environment = Environment.objects.create(name=f"tide-{n}", position=100 + n, signer_group=group)
    environment.signers.add(user)
    checklist = RolloutChecklist.objects.create(planner_slug="vision", environment=environment)
    SignOff.objects.create(
        checklist=checklist,
        owner=user,
        owner_name=user.username,
        deployment_date=timezone.localdate(),
        signed_at=now,
    )


def _alerting_rows(n: int, now: datetime) -> None:
    """An alert with its event, a delivery with its attempt, and a silence."""
    alert = Alert.objects.create(
        dedup_key=f"backlog:stale:tide-{n}@dev",
        alert_id=f"backlog:stale:tide-{n}",
        environment="dev",
        severity=Severity.WARNING,
        title=f"Night {n} is stale",
        first_seen=now,
        last_seen=now,
    )
    AlertEvent.objects.create(alert=alert, kind="fired")
    delivery = Delivery.objects.create(
        webhook_url="http://127.0.0.1:9/hook", webhook_id=f"msg_tide_{n}", payload={}
    )
    delivery.alerts.add(alert)
    DeliveryAttempt.objects.create(delivery=delivery, number=1, response_code=200)
    Silence.objects.create(pattern=alert.alert_id, starts_at=now, ends_at=now + timedelta(hours=1))
