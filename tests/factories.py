"""Fixed, named data for the tests: each builder writes the rows the product writes.

No random factories: every builder makes the same rows with the same names each time, so a
failing assertion names a plan, an item or an alert a reader can find here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from django.contrib.auth.models import Group, User
from django.utils import timezone

from cognition.agents.scripted import ScriptedAgent
from cognition.models import (
    AgentBackendLimit,
    ApiToken,
    ProcessHeartbeat,
    PromptTemplate,
    PromptTemplateVersion,
)
from cognition.seeding import seed_planner_templates
from opsalerts.ack import ack_url_for
from opsalerts.models import Alert, AlertEvent, Delivery, DeliveryAttempt, Severity, Silence
from planners.fiction.phases import Phase
from planners.framework.catalog import catalog
from planners.framework.context import PlannerContext
from planners.health import HealthAlert
from planners.health import Severity as HealthSeverity
from planners.models import (
    ActionLogEntry,
    BacklogItem,
    BacklogStatus,
    BacklogTransition,
    CastMember,
    ChapterBlueprint,
    ChapterScene,
    ChapterScroll,
    ChapterSection,
    ContractDriftEvent,
    FictionItemTarget,
    FictionProfile,
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
    ItemStatus,
    RolloutChecklist,
    RolloutWatch,
    SignOff,
)
from planners.pipeline.unproduced_inputs import refresh_unproduced_inputs
from planners.rollouts import actions
from planners.rollouts.watch import record_ended_watches
from tests.servers import SIGNING_SECRET

# --- the Backlog Telemetry console: The Lantern Keeper ----------------------------------------


@dataclass
class ConsoleData:
    plan: Plan
    vision: BacklogItem
    blocked: BacklogItem
    waiting: BacklogItem
    stale: BacklogItem
    failed_run: PlannerExecution
    failed_transcript: PhaseTranscript
    stale_alert: Alert
    failure_alert: Alert
    resolved_alert: Alert


def build_console_data() -> ConsoleData:
    """The Lantern Keeper: a plan whose vision ran, one blocked item, one waiting, one stale,
    a failed run with its transcript, and alerts in each state."""
    now = timezone.now()
    project = Project.objects.create(title="The Lantern Keeper")
    FictionProfile.objects.create(project=project, logline="A keeper's war.")
    plan = Plan.objects.create(project=project, name="Lantern Keeper main", branch="main")
    vision = BacklogItem.objects.create(
        plan=plan,
        backlog_id="vision-plan",
        phase=Phase.VISION,
        status=BacklogStatus.COMPLETE,
        outputs=["vision"],
        position=0,
    )
    blocked = BacklogItem.objects.create(
        plan=plan,
        backlog_id="outline-core-conflicts",
        description="Outline the core conflicts of the keeper's war.",
        phase=Phase.ITERATIVE,
        status=BacklogStatus.BLOCKED,
        inputs=["vision"],
        outputs=["conflicts"],
        position=1,
        last_error="Reply missing key 'risks'.",
    )
    waiting = BacklogItem.objects.create(
        plan=plan,
        backlog_id="chapter-1-blueprint",
        phase=Phase.CHAPTER_ARCHITECT,
        inputs=["conflicts", "harbour-map"],
        position=2,
    )
    stale = BacklogItem.objects.create(
        plan=plan,
        backlog_id="scroll-harbour-night",
        phase=Phase.SCROLL_REFINER,
        status=BacklogStatus.IN_PROGRESS,
        inputs=["vision"],
        position=3,
    )
    BacklogItem.objects.filter(pk=stale.pk).update(
        in_progress_at=now - timedelta(hours=5), heartbeat_at=now - timedelta(hours=5)
    )
    # Items written here, not by the engine: work out what they wait on as it would.
    refresh_unproduced_inputs([plan.pk])
    BacklogTransition.objects.create(
        item=blocked,
        plan=plan,
        from_status="in_progress",
        to_status="blocked",
        reason="phase-blocked",
        actor="worker",
    )
    PhaseCheckpoint.objects.create(
        plan=plan,
        phase_key="vision|main",
        phase=Phase.VISION,
        backlog_item=vision,
        status=PhaseCheckpoint.Status.COMPLETE,
        attempts=1,
    )
    PlannerExecution.objects.create(
        planner_slug="vision",
        outcome=PlannerOutcome.SUCCESS,
        environment="dev",
        correlation_id="run-vision-1",
        plan=plan,
        backlog_item=vision,
        latency_ms=900,
        prompt_tokens=1200,
        completion_tokens=800,
        started_at=now,
        finished_at=now,
        template_id="planner.fiction.vision",
        template_version=1,
    )
    failed_run = PlannerExecution.objects.create(
        planner_slug="iterative",
        outcome=PlannerOutcome.BLOCKED,
        environment="dev",
        correlation_id="run-iterative-1",
        plan=plan,
        backlog_item=blocked,
        latency_ms=2100,
        prompt_tokens=700,
        completion_tokens=300,
        started_at=now,
        finished_at=now,
        error="Validation failed after repair: risks is required",
        template_id="planner.fiction.iterative",
        template_version=1,
    )
    failed_transcript = PhaseTranscript.objects.create(
        plan=plan,
        phase=Phase.ITERATIVE,
        backlog_item=blocked,
        execution=failed_run,
        attempt=2,
        is_retry=True,
        request=[{"role": "user", "content": "Plan iteration 1 of Lantern Keeper main."}],
        response='{"storyAdjustments": ["The keeper hides the lamp"]}',
        prompt_tokens=700,
        completion_tokens=300,
        latency_ms=2100,
        validation_status=PhaseTranscript.Validation.FAILED,
        validation_details=["risks: field required"],
        template_id="planner.fiction.iterative",
        template_version=1,
    )
    ActionLogEntry.objects.create(
        action="resume", actor="olivia", target="plan 1 / outline-core-conflicts"
    )

    def alert(alert_id: str, severity: str, status: str, **extra: Any) -> Alert:
        return Alert.objects.create(
            dedup_key=f"{alert_id}@dev",
            alert_id=alert_id,
            environment="dev",
            status=status,
            severity=severity,
            first_seen=now,
            last_seen=now,
            **extra,
        )

    stale_alert = alert(
        "backlog:stale",
        Severity.WARNING,
        Alert.Status.FIRING,
        title="1 backlog item is stale",
        plan_id=plan.pk,
        backlog_id="scroll-harbour-night",
    )
    failure_alert = alert(
        "planner:recent-failures",
        Severity.ERROR,
        Alert.Status.FIRING,
        title="Recent planner failures",
        planner_slug="iterative",
    )
    resolved_alert = alert(
        "template-fallback:vision",
        Severity.WARNING,
        Alert.Status.RESOLVED,
        title="Vision used its fallback prompt",
        template_id="planner.fiction.vision",
    )
    return ConsoleData(
        plan,
        vision,
        blocked,
        waiting,
        stale,
        failed_run,
        failed_transcript,
        stale_alert,
        failure_alert,
        resolved_alert,
    )


def add_alerts_in_each_state() -> dict[str, Alert]:
    """Beside The Lantern Keeper's two firing alerts and one resolved: an acknowledged alert, and
    a firing one that a silence on ``lore:*`` covers (so it counts as silenced, not firing)."""
    now = timezone.now()
    acknowledged = Alert.objects.create(
        dedup_key="backlog:orphaned@dev",
        alert_id="backlog:orphaned",
        environment="dev",
        status=Alert.Status.ACKNOWLEDGED,
        severity=Severity.WARNING,
        title="2 backlog items are orphaned",
        first_seen=now,
        last_seen=now,
        acknowledged_by="olivia",
        acknowledged_via="console",
        acknowledged_at=now,
    )
    silenced = Alert.objects.create(
        dedup_key="lore:blocked@dev",
        alert_id="lore:blocked",
        environment="dev",
        status=Alert.Status.FIRING,
        severity=Severity.WARNING,
        title="Lore requirements block a plan",
        first_seen=now,
        last_seen=now,
    )
    Silence.objects.create(
        pattern="lore:*",
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=1),
        author="olivia",
        reason="lore team is on it",
    )
    return {"acknowledged": acknowledged, "silenced": silenced}


def add_repeated_failures(data: ConsoleData, *, count: int) -> None:
    """``count`` more blocked runs of outline-core-conflicts, a minute apart, the last one
    ending with a network error (as a retry loop leaves an item)."""
    now = timezone.now()
    runs = PlannerExecution.objects.bulk_create(
        PlannerExecution(
            planner_slug="iterative",
            outcome=PlannerOutcome.BLOCKED,
            environment="dev",
            correlation_id=f"run-iterative-retry-{n}",
            plan=data.plan,
            backlog_item=data.blocked,
            latency_ms=1800,
            started_at=now,
            finished_at=now,
            error="Validation failed after repair: risks is required"
            if n < count - 1
            else "Connection reset by the provider",
        )
        for n in range(count)
    )
    for n, run in enumerate(runs):
        PlannerExecution.objects.filter(pk=run.pk).update(
            created_at=now - timedelta(minutes=count - n)
        )
    PlannerExecution.objects.filter(pk=data.failed_run.pk).update(
        created_at=now - timedelta(minutes=count + 1)
    )


def add_vision_runs(
    at: datetime, latencies: list[int], *, outcome: str = PlannerOutcome.SUCCESS
) -> None:
    """Vision runs recorded at ``at``, one per latency (in ms)."""
    runs = PlannerExecution.objects.bulk_create(
        PlannerExecution(
            planner_slug="vision",
            outcome=outcome,
            environment="dev",
            latency_ms=ms,
            started_at=at,
            finished_at=at,
        )
        for ms in latencies
    )
    PlannerExecution.objects.filter(pk__in=[run.pk for run in runs]).update(created_at=at)


def add_transitions(data: ConsoleData, *, count: int) -> None:
    """``count`` flaps of chapter-1-blueprint between pending and in progress, one insert."""
    BacklogTransition.objects.bulk_create(
        BacklogTransition(
            item=data.waiting,
            plan=data.plan,
            from_status="pending" if n % 2 else "in_progress",
            to_status="in_progress" if n % 2 else "pending",
            reason=f"flap-{n:02d}",
            actor="worker",
        )
        for n in range(count)
    )


def add_backlog_items(plan: Plan, count: int) -> None:
    """Pad ``plan`` with ``count`` pending scene items in one insert."""
    BacklogItem.objects.bulk_create(
        BacklogItem(
            plan=plan,
            backlog_id=f"scene-{n:04d}",
            phase=Phase.SCENE_WEAVER,
            position=100 + n,
            inputs=["vision"],
        )
        for n in range(count)
    )
    refresh_unproduced_inputs([plan.pk])  # bulk_create sends no signals


# --- the health report ------------------------------------------------------------------------


def seed_templates() -> None:
    """What a fresh install runs: every catalog step gets its seeded template (version 1)."""
    seed_planner_templates()


def add_item(
    plan: Plan,
    backlog_id: str,
    *,
    status: str = BacklogStatus.PENDING,
    phase: str = "iterative",
    started_hours_ago: float | None = None,
    inputs: list[str] | None = None,
    outputs: list[str] | None = None,
    synthetic: bool = False,
) -> BacklogItem:
    started = (
        timezone.now() - timedelta(hours=started_hours_ago)
        if started_hours_ago is not None
        else None
    )
    item = BacklogItem.objects.create(
        plan=plan,
        backlog_id=backlog_id,
        status=status,
        phase=phase,
        in_progress_at=started,
        heartbeat_at=started,
        inputs=inputs or [],
        outputs=outputs or [],
        synthetic=synthetic,
    )
    refresh_unproduced_inputs([plan.pk])  # as the engine does when it writes a plan's items
    return item


STATUSES = ("pending", "in_progress", "complete", "blocked", "failed")
PHASES = ("iterative", "chapterArchitect", "scrollRefiner", "sceneWeaver")


def populate_backlog(items: int) -> Plan:
    """``items`` backlog items over two plans, with transitions, runs, drift and lore."""
    now = timezone.now()
    plans = [
        Plan.objects.create(project=Project.objects.create(title=title), name=title, branch="main")
        for title in ("The Salt Road", "Glass Harbour")
    ]
    BacklogItem.objects.bulk_create(
        BacklogItem(
            plan=plans[n % 2],
            backlog_id=f"pass-{n:04d}",
            status=STATUSES[n % len(STATUSES)],
            phase=PHASES[n % len(PHASES)],
            in_progress_at=now - timedelta(hours=n % 5),
            inputs=[f"token-{n - 2:04d}", "never-produced"]
            if n % 7 == 0
            else [f"token-{n - 2:04d}"],
            outputs=[f"token-{n:04d}"],
            synthetic=n % 50 == 0,
        )
        for n in range(items)
    )
    refresh_unproduced_inputs(plan.pk for plan in plans)  # bulk_create sends no signals
    backlog = list(BacklogItem.objects.values_list("pk", "plan_id"))
    BacklogTransition.objects.bulk_create(
        BacklogTransition(
            item_id=pk, plan_id=plan_id, from_status=origin, to_status="pending", reason="resume"
        )
        for pk, plan_id in backlog
        for origin in ("failed", "blocked", "failed")
    )
    PlannerExecution.objects.bulk_create(
        PlannerExecution(
            planner_slug=("vision", "iterative", "scene-weaver")[n % 3],
            outcome=("success", "failed", "throttled", "rejected")[n % 4],
            quota_limit="max_tokens" if n % 4 in (2, 3) else "",
            critique_status=("passed", "exhausted", "")[n % 3],
            used_fallback=n % 5 == 0,
            latency_ms=100 + n,
            prompt_tokens=10,
            environment="dev",
            correlation_id=f"run-{n}",
            plan=plans[n % 2],
            transcript=[{"role": "assistant", "message": f"reply {n}"}],
            started_at=now,
            finished_at=now,
        )
        for n in range(items)
    )
    first_item = BacklogItem.objects.filter(plan=plans[0]).first()
    assert first_item is not None
    ContractDriftEvent.objects.bulk_create(
        ContractDriftEvent(item=first_item, plan=plans[0], requested={"model": f"m{n}"})
        for n in range(max(items // 100, 2))
    )
    LoreRequirement.objects.bulk_create(
        LoreRequirement(
            plan=plans[n % 2], requirement_slug=f"lore-{n}", title=f"Lore {n}", status="blocked"
        )
        for n in range(max(items // 10, 2))
    )
    return plans[0]


# --- Ops alerting: fixed health alerts --------------------------------------------------------


STALE = HealthAlert(
    id="backlog:stale",
    severity=HealthSeverity.WARNING,
    title="2 backlog items stale",
    description="In progress for more than 2 h: outline-core-conflicts, chapter-1-blueprint.",
    planner="chapter-architect",
    plan_id=7,
    backlog_id="outline-core-conflicts",
)
FAILURES = HealthAlert(
    id="planner:recent-failures",
    severity=HealthSeverity.ERROR,
    title="3 failed planner runs",
    description="scene-weaver failed 3 times in the last 24 h.",
    planner="scene-weaver",
)
NO_EXECUTIONS = HealthAlert(
    id="planner:no-executions",
    severity=HealthSeverity.INFO,
    title="No planner has run yet",
    description="Nothing has run.",
)


def report(*alerts: HealthAlert, status: str = "degraded") -> SimpleNamespace:
    """A stand-in for ``PlannerHealthReport`` carrying only what evaluation reads."""
    return SimpleNamespace(status=status, alerts=list(alerts))


# --- rollouts: the Vision planner's live evidence, made for real ------------------------------

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


# --- prompt templates -------------------------------------------------------------------------


def make_template(name: str, text: str, *, active: bool = True) -> PromptTemplate:
    template = PromptTemplate.objects.create(name=name, is_active=active)
    version = PromptTemplateVersion.objects.create(
        template=template, number=1, text=text, source="seeded"
    )
    template.active_version = version
    template.save(update_fields=["active_version"])
    return template


# --- a row of every kind the admin lists ------------------------------------------------------


def add_listed_records(start: int, count: int) -> None:
    """``count`` more rows of every kind an admin changelist shows, numbered from ``start``.

    Each row points at its own related rows (its own plan, item, template, user...), so a list
    that loads a relation per row costs one more query per row here.
    """
    now = timezone.now()
    for n in range(start, start + count):
        project = Project.objects.create(title=f"Tidewater {n:03d}")
        plan = Plan.objects.create(project=project, name=f"Tidewater {n:03d} main")
        FictionVision.objects.create(plan=plan, author_summary=f"Tides, volume {n}.")
        CastMember.objects.create(plan=plan, tier=CastMember.Tier.CORE, name=f"Keeper {n}")
        PlanPass.objects.create(plan=plan, iteration=1)
        blueprint = ChapterBlueprint.objects.create(plan=plan, slug=f"chapter-{n}")
        scroll = ChapterScroll.objects.create(
            plan=plan, blueprint=blueprint, scroll_slug=f"scroll-{n}"
        )
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

        make_template(f"planner.test.tide{n}", f"Write night {n}.")
        user = User.objects.create_user(username=f"keeper-{n}")
        ApiToken.objects.create(user=user, prefix=f"tok{n}", token_hash=f"{n:064d}")
        AgentBackendLimit.objects.create(
            backend=f"tide-backend-{n}", leases={f"lease-{n}": now.timestamp() + 60}
        )

        group = Group.objects.create(name=f"tide-signers-{n}")
        environment = Environment.objects.create(
            name=f"tide-{n}", position=100 + n, signer_group=group
        )
        environment.signers.add(user)
        checklist = RolloutChecklist.objects.create(planner_slug="vision", environment=environment)
        SignOff.objects.create(
            checklist=checklist,
            owner=user,
            owner_name=user.username,
            deployment_date=timezone.localdate(),
            signed_at=now,
        )

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
        Silence.objects.create(
            pattern=alert.alert_id, starts_at=now, ends_at=now + timedelta(hours=1)
        )


# --- native Ops channels (tests/channel_fakes.py) ---------------------------------------------

PAGERDUTY_KEY = "R0UT1NGKEY0123456789ABCDEFGHIJKL"  # 32 letters and digits, like PagerDuty's
PAGERDUTY_SECRET = "pdWebhookSecret+ForTests/0123456789ABCDEFGHIJKLMNOPQRSTUVW="
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5".replace("y", "1").replace("z", "2")
SLACK_URL = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


def channel_route(channel: str, url: str, **extra: Any) -> str:
    """``OPS_ALERTING_ROUTES`` with one default route in ``channel``."""
    route = {"match": "default", "channel": channel, "webhook_url": url, **extra}
    if channel == "pagerduty":
        route.setdefault("routing_key", PAGERDUTY_KEY)
    if channel == "slack":
        route.setdefault("webhook_url_pattern", r"http://127\.0\.0\.1:\d+/.*")
    return json.dumps([route])


def pagerduty_incident_event(
    event_type: str, *, incident_key: str, agent: str = "Priya Natarajan"
) -> dict[str, Any]:
    """A PagerDuty v3 webhook body, as PagerDuty documents it (abridged to what we read)."""
    return {
        "event": {
            "id": "01DEN2HGV3MPK3N6U3QMC4JWLQ",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2026-11-27T10:15:00.000Z",
            "agent": {
                "id": "PLH1HKV",
                "summary": agent,
                "type": "user_reference",
                "html_url": "https://acme.pagerduty.com/users/PLH1HKV",
            },
            "data": {
                "id": "Q2DP2N3O7TJDNS",
                "type": "incident",
                "status": event_type.removeprefix("incident."),
                "incident_key": incident_key,
                "title": "Stale backlog",
                "html_url": "https://acme.pagerduty.com/incidents/Q2DP2N3O7TJDNS",
            },
        }
    }


# --- liveness: the housekeeping worker, the phases worker and beat, as they record themselves --


def record_process(
    kind: str = ProcessHeartbeat.Kind.WORKER,
    *,
    host: str = "housekeeping@ops-1",
    pid: int = 4100,
    queues: tuple[str, ...] = ("celery",),
    seen_ago: timedelta = timedelta(0),
) -> ProcessHeartbeat:
    seen = timezone.now() - seen_ago
    return ProcessHeartbeat.objects.create(
        kind=kind,
        host=host,
        pid=pid,
        queues=list(queues),
        started_at=seen - timedelta(hours=1),
        last_seen=seen,
    )


def record_workers_and_beat(*, seen_ago: timedelta = timedelta(0)) -> None:
    """Both workers ``make run`` starts and its beat, last seen ``seen_ago``."""
    record_process(seen_ago=seen_ago)
    record_process(host="phases@ops-1", pid=4200, queues=("phases",), seen_ago=seen_ago)
    record_process(ProcessHeartbeat.Kind.BEAT, host="ops-1", pid=4101, queues=(), seen_ago=seen_ago)
