"""The health report costs the same number of queries at 10 and at 1,000 backlog items."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from planners.health import build_health_report
from planners.models import (
    BacklogItem,
    BacklogTransition,
    ContractDriftEvent,
    LoreRequirement,
    Plan,
    PlannerExecution,
    Project,
)
from planners.pipeline.unproduced_inputs import refresh_unproduced_inputs

pytestmark = pytest.mark.django_db

REPORT_QUERIES = 15
PLAN_REPORT_QUERIES = REPORT_QUERIES + 1  # the plan's existence check

STATUSES = ("pending", "in_progress", "complete", "blocked", "failed")
PHASES = ("iterative", "chapterArchitect", "scrollRefiner", "sceneWeaver")


def populate(items: int) -> Plan:
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


@pytest.mark.parametrize("items", [10, 1000])
def test_report_query_count_does_not_grow_with_the_backlog(
    items: int,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    populate(items)

    with django_assert_num_queries(REPORT_QUERIES):
        report = build_health_report()

    assert report.backlog.total == items - len(range(0, items, 50))
    assert report.backlog.flapping
    assert report.backlog.orphaned_total > 0
    assert len(report.backlog.orphaned) <= 20


@pytest.mark.parametrize("items", [10, 1000])
def test_plan_report_query_count_does_not_grow_with_the_backlog(
    items: int,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    plan = populate(items)

    with django_assert_num_queries(PLAN_REPORT_QUERIES):
        build_health_report(plan_id=plan.pk)
