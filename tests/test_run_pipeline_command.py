"""``manage.py run_pipeline`` as a new user meets it: a phase its worker cannot run ends the wait
with exit 1 and the reason, titles are printed as written, a blank title is refused."""

from __future__ import annotations

import pytest

from planners.models import BacklogStatus, Plan, Project
from planners.tasks import run_backlog_item_task
from tests.factories.backlog import add_item

#: A pipeline the console knows once ``startplanner`` made it, but a worker started before then
#: does not (nor does this test process: it is registered nowhere).
NEW_PIPELINE = "research-brief"


def _plan(title: str, *, pipeline: str = NEW_PIPELINE, status: str = Plan.Status.DRAFT) -> Plan:
    project = Project.objects.create(title=title)
    return Plan.objects.create(
        project=project, pipeline=pipeline, name=f"{title} (main)", status=status
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("eager_tasks")
def test_a_phase_of_a_pipeline_the_worker_does_not_know_fails_and_blocks_its_plan() -> None:
    plan = _plan("Quarterly roadmap", status=Plan.Status.IN_PROGRESS)
    item = add_item(plan, "research-brief", phase="researchBrief", status=BacklogStatus.IN_PROGRESS)

    run_backlog_item_task.delay(item.pk)

    item.refresh_from_db()
    plan.refresh_from_db()
    assert item.status == BacklogStatus.FAILED
    assert item.last_error.startswith(f"unknown pipeline {NEW_PIPELINE!r}")
    assert plan.status == Plan.Status.BLOCKED
