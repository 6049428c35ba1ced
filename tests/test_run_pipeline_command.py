"""``manage.py run_pipeline`` as a new user meets it: a phase its worker cannot run ends the wait
with exit 1 and the reason, titles are printed as written, a blank title is refused."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from planners.models import BacklogItem, BacklogStatus, BacklogTransition, Plan, Project
from planners.tasks import run_backlog_item_task
from tests.factories.backlog import add_item

#: The command's --wait loop polls the database while the phase task runs (eagerly, after the
#: commit that queues it): a test with real transactions.
COMMITTED = pytest.mark.django_db(transaction=True)

#: A pipeline the console knows once ``startplanner`` made it, but a worker started before then
#: does not (nor does this test process: it is registered nowhere).
NEW_PIPELINE = "research-brief"
#: Ample for a wait that ends at once; a wait that never ends fails the test by timing out.
TIMEOUT_SECONDS = 8.0


def _plan(title: str, *, pipeline: str = NEW_PIPELINE, status: str = Plan.Status.DRAFT) -> Plan:
    project = Project.objects.create(title=title)
    return Plan.objects.create(
        project=project, pipeline=pipeline, name=f"{title} (main)", status=status
    )


def _wait(plan: Plan, out: StringIO | None = None) -> tuple[CommandError, float]:
    started = time.monotonic()
    with pytest.raises(CommandError) as ended:
        call_command(
            "run_pipeline",
            *("--plan", str(plan.pk), "--wait", "--timeout", str(TIMEOUT_SECONDS)),
            *("--poll", "0.05"),
            stdout=out or StringIO(),
            stderr=StringIO(),
        )
    return ended.value, time.monotonic() - started


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


@COMMITTED
@pytest.mark.usefixtures("eager_tasks")
def test_wait_ends_with_exit_1_naming_the_item_its_worker_could_not_run() -> None:
    plan = _plan("Quarterly roadmap")
    add_item(plan, "research-brief", phase="researchBrief")
    out = StringIO()

    error, took = _wait(plan, out)

    assert error.returncode == 1
    reason, hint = str(error).splitlines()
    assert reason.startswith(
        f"Plan {plan.pk} is blocked: research-brief (researchBrief) failed: "
        f"unknown pipeline {NEW_PIPELINE!r}"
    )
    assert hint == f"Fix the cause, then: python manage.py resume_backlog {plan.pk} research-brief"
    assert took < TIMEOUT_SECONDS / 2
    assert "in_progress → failed (phase-failed)" in out.getvalue()
    plan.refresh_from_db()
    assert plan.status == Plan.Status.BLOCKED


@contextmanager
def _failed_meanwhile(item: BacklogItem, error: str) -> Iterator[None]:
    """After a moment, fail ``item`` as a worker of an earlier release did: the item and its
    transition only, the plan row left as it was."""

    def fail() -> None:
        time.sleep(0.5)
        try:
            BacklogItem.objects.filter(pk=item.pk).update(
                status=BacklogStatus.FAILED, last_error=error
            )
            BacklogTransition.objects.create(
                item_id=item.pk,
                plan_id=item.plan_id,
                from_status=BacklogStatus.IN_PROGRESS,
                to_status=BacklogStatus.FAILED,
                reason="phase-failed",
                actor="worker",
                detail=error,
            )
        finally:
            connections.close_all()

    worker = threading.Thread(target=fail)
    worker.start()
    try:
        yield
    finally:
        worker.join()


@COMMITTED
def test_wait_ends_on_a_failed_item_with_nothing_in_flight_whatever_the_plan_row_says() -> None:
    plan = _plan("Quarterly roadmap", pipeline="fiction", status=Plan.Status.IN_PROGRESS)
    item = add_item(plan, "vision-plan", phase="vision", status=BacklogStatus.IN_PROGRESS)
    out = StringIO()

    with _failed_meanwhile(item, "agent backend 'openai': no API key"):
        error, took = _wait(plan, out)

    assert error.returncode == 1
    assert str(error).splitlines()[0] == (
        f"Plan {plan.pk} is blocked: vision-plan (vision) failed: "
        "agent backend 'openai': no API key"
    )
    assert took < TIMEOUT_SECONDS / 2
    assert f"Plan {plan.pk} 'Quarterly roadmap (main)' is in_progress" in out.getvalue()


@pytest.mark.django_db
def test_a_complete_plan_is_named_with_its_title_as_written() -> None:
    plan = _plan("Quarterly roadmap", pipeline="fiction", status=Plan.Status.COMPLETE)
    add_item(plan, "vision-plan", phase="vision", status=BacklogStatus.COMPLETE)
    out = StringIO()

    call_command("run_pipeline", "--plan", str(plan.pk), stdout=out)

    assert (
        out.getvalue().strip() == f"Plan {plan.pk} 'Quarterly roadmap (main)' is already complete."
    )


@pytest.mark.django_db
@pytest.mark.parametrize("title", ["", "   "])
def test_a_blank_project_title_is_refused_and_nothing_is_created(title: str) -> None:
    with pytest.raises(CommandError) as refused:
        call_command(
            "run_pipeline", "--pipeline", "nonfiction", "--project", title, stdout=StringIO()
        )

    assert refused.value.returncode == 1
    assert str(refused.value) == "--project must not be empty."
    assert not Project.objects.exists()
    assert not Plan.objects.exists()
