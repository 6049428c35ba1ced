"""Backlog items and plans as the engine writes them, for the health report and its queries."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from cognition.seeding import seed_planner_templates
from planners.models import (
    BacklogItem,
    BacklogStatus,
    BacklogTransition,
    ContractDriftEvent,
    LoreRequirement,
    Plan,
    PlannerExecution,
    Project,
)
from planners.pipeline.unproduced_inputs import refresh_unproduced_inputs


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
    _add_runs(plans, items, now)
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


def _add_runs(plans: list[Plan], items: int, now: datetime) -> None:
    """``items`` runs over ``plans``: each outcome, quota breaches, critique states, fallbacks."""
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
