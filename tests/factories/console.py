"""The Backlog Telemetry console's data: The Lantern Keeper, a plan with one item in each state a
person reads, its runs and transcripts, and alerts in each state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from opsalerts.models import Alert, Severity, Silence
from planners.fiction.phases import Phase
from planners.models import (
    ActionLogEntry,
    BacklogItem,
    BacklogStatus,
    BacklogTransition,
    FictionProfile,
    PhaseCheckpoint,
    PhaseTranscript,
    Plan,
    PlannerExecution,
    PlannerOutcome,
    Project,
)
from planners.pipeline.unproduced_inputs import refresh_unproduced_inputs


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
    vision, blocked, waiting, stale = _lantern_keeper_backlog(plan, now)
    failed_run, failed_transcript = _lantern_keeper_runs(plan, now, vision, blocked)
    return ConsoleData(
        plan,
        vision,
        blocked,
        waiting,
        stale,
        failed_run,
        failed_transcript,
        *_lantern_keeper_alerts(plan, now),
    )


def _lantern_keeper_backlog(
    plan: Plan, now: datetime
) -> tuple[BacklogItem, BacklogItem, BacklogItem, BacklogItem]:
    """Its vision item (complete), one blocked, one waiting on an input and one stale."""
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
    return vision, blocked, waiting, stale


def _lantern_keeper_runs(
    plan: Plan, now: datetime, vision: BacklogItem, blocked: BacklogItem
) -> tuple[PlannerExecution, PhaseTranscript]:
    """The vision's run; the blocked item's failed run and its transcript; an operator's resume
    in the action log."""
    _vision_run(plan, now, vision)
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
    return failed_run, failed_transcript


def _vision_run(plan: Plan, now: datetime, vision: BacklogItem) -> None:
    """The vision item's completed checkpoint and its successful run."""
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


def _lantern_keeper_alerts(plan: Plan, now: datetime) -> tuple[Alert, Alert, Alert]:
    """A firing stale-backlog warning, a firing failures error and a resolved warning."""

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
    return stale_alert, failure_alert, resolved_alert


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
