"""The health report over a real scripted vision run: what an operator sees after a deploy."""

from __future__ import annotations

import pytest

from cognition.agents.scripted import ScriptedAgent
from cognition.models import PromptTemplate
from planners.health import HealthStatus, build_health_report
from planners.models import BacklogItem, FictionProfile, Project
from planners.pipeline.phase import run_item_phase
from planners.pipeline.plans import start_plan as create_plan
from tests.factories.backlog import seed_templates

pytestmark = pytest.mark.django_db


def run_item(item: BacklogItem) -> None:
    run_item_phase(item, ScriptedAgent(), correlation_id=f"health-{item.backlog_id}")


@pytest.fixture
def vision_done() -> int:
    seed_templates()
    project = Project.objects.create(title="The Salt Road")
    FictionProfile.objects.create(project=project, logline="Salt and sand.")
    plan = create_plan(project)
    run_item(BacklogItem.objects.get(plan=plan, backlog_id="vision-plan"))
    return plan.pk


def test_report_after_a_scripted_vision_run_is_healthy(vision_done: int) -> None:
    report = build_health_report()

    assert report.status == HealthStatus.HEALTHY, [a.id for a in report.alerts]
    assert report.alerts == ()
    vision = next(p for p in report.planners if p.slug == "vision")
    assert vision.runs_in_window == 1
    assert not vision.fallback_in_use
    assert report.telemetry.executions_by_outcome["success"] == 1
    assert report.telemetry.last_execution is not None
    assert report.telemetry.last_execution.planner == "vision"
    # Vision synced the backlog: every new item's inputs are some item's outputs.
    assert report.backlog.total > 1
    assert report.backlog.orphaned_total == 0
    # The vision completed and the engine queued the items it made ready.
    assert {t.reason for t in report.backlog.recent_transitions} >= {
        "vision-sync",
        "phase-complete",
        "phase-start",
    }


def test_inactive_template_shows_as_fallback_after_the_next_run(vision_done: int) -> None:
    PromptTemplate.objects.filter(name="planner.fiction.iterative").update(is_active=False)
    item = BacklogItem.objects.filter(plan_id=vision_done, phase="iterative").first()
    assert item is not None
    run_item(item)

    report = build_health_report()

    ids = {a.id for a in report.alerts}
    assert "template-inactive:iterative:iterative-plan" in ids
    assert "template-fallback:iterative" in ids
    assert report.status == HealthStatus.DEGRADED
    iterative = next(p for p in report.planners if p.slug == "iterative")
    assert iterative.fallback_runs_in_window == 1
    assert iterative.steps[0].fallback_in_use
