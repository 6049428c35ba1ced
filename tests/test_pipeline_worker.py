"""The pipeline on a real Celery worker process: the whole run, and a worker killed mid-phase.

On a laptop these use SQLite and the filesystem broker; in CI they run again on PostgreSQL with a
worker over Redis (``CELERY_BROKER_URL=redis://...``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from planners.actions import create_plan, start_pipeline
from planners.demo import DEMO_PROJECT_TITLE, get_or_create_project
from planners.fiction.phases import Phase
from planners.models import (
    BacklogItem,
    BacklogStatus,
    PhaseTranscript,
    Plan,
    PlannerExecution,
    Project,
)
from planners.tasks import sweep_stale_backlog
from tests.worker import CeleryWorker, wait_until

PLAN_TIMEOUT = 30.0


def new_plan() -> Plan:
    project, _ = get_or_create_project(DEMO_PROJECT_TITLE)
    return create_plan(project, agent_backend="scripted", actor="olivia")


def plan_status(plan: Plan) -> str:
    plan.refresh_from_db(fields=["status"])
    return plan.status


def assert_plan_complete_without_duplicates(plan: Plan) -> None:
    items = list(plan.backlog_items.all())
    assert sorted(item.phase for item in items) == sorted(
        [
            Phase.VISION,
            Phase.ITERATIVE,
            Phase.CHAPTER_ARCHITECT,
            Phase.SCROLL_REFINER,
            Phase.SCENE_WEAVER,
        ]
    )
    assert all(item.status == BacklogStatus.COMPLETE for item in items)
    checkpoints = Counter(plan.checkpoints.values_list("backlog_item_id", flat=True))
    assert checkpoints == Counter({item.pk: 1 for item in items})
    assert set(plan.checkpoints.values_list("status", flat=True)) == {"complete"}
    # One transcript per attempt: as many as each item's (and checkpoint's) attempts, of which
    # exactly one passed; the others were interrupted by a worker that died.
    for item in items:
        outcomes = list(
            PhaseTranscript.objects.filter(backlog_item=item)
            .order_by("attempt")
            .values_list("outcome", flat=True)
        )
        assert len(outcomes) == item.attempts == plan.checkpoints.get(backlog_item=item).attempts
        assert outcomes == ["interrupted"] * (item.attempts - 1) + ["passed"], item.backlog_id
    executions = Counter(PlannerExecution.objects.values_list("backlog_item_id", flat=True))
    assert executions == Counter({item.pk: 1 for item in items})


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_real_worker_runs_the_whole_pipeline(celery_worker: CeleryWorker) -> None:
    celery_worker.start()
    plan = new_plan()

    queued = start_pipeline(plan, actor="olivia")

    assert [item.backlog_id for item in queued] == ["vision-plan"]
    wait_until(
        lambda: plan_status(plan) == Plan.Status.COMPLETE,
        timeout=PLAN_TIMEOUT,
        what=f"the plan to complete; worker log:\n{celery_worker.log()}",
    )
    assert_plan_complete_without_duplicates(plan)
    assert " succeeded in " in celery_worker.log()


@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_fiction_and_nonfiction_plans_run_side_by_side_on_one_worker(
    celery_worker: CeleryWorker,
) -> None:
    celery_worker.start()
    fiction = new_plan()
    nonfiction = create_plan(
        Project.objects.create(title="Grid Storage", description="Batteries at city scale."),
        pipeline="nonfiction",
        agent_backend="scripted",
        actor="olivia",
    )

    start_pipeline(fiction, actor="olivia")
    start_pipeline(nonfiction, actor="olivia")

    def both_complete() -> bool:
        return all(plan_status(p) == Plan.Status.COMPLETE for p in (fiction, nonfiction))

    for plan in (fiction, nonfiction):
        wait_until(
            both_complete,
            timeout=PLAN_TIMEOUT,
            what=f"plan {plan.pipeline} to complete; worker log:\n{celery_worker.log()}",
        )
    sections = list(
        nonfiction.backlog_items.filter(phase="sectionDraft").values_list("status", flat=True)
    )
    assert sections == ["complete", "complete"]
    # One agent call per item in either family: no item ran twice.
    for plan in (fiction, nonfiction):
        assert PhaseTranscript.objects.filter(plan=plan).count() == plan.backlog_items.count()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_phase_is_resumed_and_completes_without_duplicates(
    celery_worker: CeleryWorker,
    settings: Any,
) -> None:
    # Each scripted reply takes a second, so the worker can be killed inside a phase: the test
    # sees the attempt recorded within a tenth of a second (its poll) and kills at once.
    celery_worker.start({"SCRIPTED_AGENT_DELAY_SECONDS": "1", "BACKLOG_STALE_AFTER_SECONDS": "2"})
    plan = new_plan()
    start_pipeline(plan, actor="olivia")

    def architect_asking_the_model() -> PhaseTranscript | None:
        return PhaseTranscript.objects.filter(
            plan=plan, phase=Phase.CHAPTER_ARCHITECT, outcome=PhaseTranscript.Outcome.RUNNING
        ).first()

    wait_until(
        architect_asking_the_model, timeout=PLAN_TIMEOUT, what="the chapter architect's call"
    )
    celery_worker.kill()
    architect = BacklogItem.objects.get(plan=plan, phase=Phase.CHAPTER_ARCHITECT)
    assert architect.status == BacklogStatus.IN_PROGRESS
    # The attempt was recorded when it started, and nothing else of the phase was.
    (started,) = PhaseTranscript.objects.filter(backlog_item=architect)
    assert (started.outcome, started.response, started.execution_id) == ("running", "", None)

    celery_worker.start({"BACKLOG_STALE_AFTER_SECONDS": "2"})
    settings.BACKLOG_STALE_AFTER_SECONDS = 2
    # The dead worker's heartbeat goes silent; the beat sweep notices and resumes the item.
    wait_until(sweep_stale_backlog, timeout=PLAN_TIMEOUT, interval=0.2, what="a stale item")
    wait_until(
        lambda: plan_status(plan) == Plan.Status.COMPLETE,
        timeout=PLAN_TIMEOUT,
        what=f"the plan to complete; worker log:\n{celery_worker.log()}",
    )

    assert_plan_complete_without_duplicates(plan)
    architect.refresh_from_db()
    reasons = list(architect.transitions.order_by("id").values_list("reason", flat=True))
    assert reasons == ["vision-sync", "phase-start", "auto-resume", "phase-start", "phase-complete"]
    assert plan.checkpoints.get(backlog_item=architect).attempts == 2
    assert list(architect.transcripts.order_by("attempt").values_list("attempt", "outcome")) == [
        (1, "interrupted"),
        (2, "passed"),
    ]


@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_phase_whose_pool_process_dies_is_redelivered_to_the_same_worker(
    celery_worker: CeleryWorker,
) -> None:
    # Each scripted reply takes a second: the pool processes are killed inside the vision phase.
    celery_worker.start({"SCRIPTED_AGENT_DELAY_SECONDS": "1"})
    plan = new_plan()
    start_pipeline(plan, actor="olivia")
    # Its attempt recorded as the call starts (the checkpoint is taken a moment before: a kill
    # in between would leave no attempt to find interrupted).
    wait_until(
        lambda: PhaseTranscript.objects.filter(
            plan=plan, phase=Phase.VISION, outcome=PhaseTranscript.Outcome.RUNNING
        ).exists(),
        timeout=PLAN_TIMEOUT,
        what="the vision phase's call",
    )

    celery_worker.kill_pool_processes()

    # acks_late + reject_on_worker_lost: the main process hands the message back to the broker
    # and a fresh pool process runs the same task, which takes its own checkpoint back.
    wait_until(
        lambda: plan_status(plan) == Plan.Status.COMPLETE,
        timeout=PLAN_TIMEOUT,
        what=f"the plan to complete; worker log:\n{celery_worker.log()}",
    )
    assert "WorkerLostError" in celery_worker.log()
    assert_plan_complete_without_duplicates(plan)
    assert plan.checkpoints.get(phase=Phase.VISION).attempts == 2


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_threads_pool_runs_64_phases_at_once_without_locking_the_database(
    celery_worker: CeleryWorker,
) -> None:
    # The production shape for phases: one process, a threads pool on the phases queue. Each
    # scripted reply takes three seconds, so the 64 briefs are all waiting on "the model" at once,
    # with room for the worker to start all 64 while the other test process keeps a core busy.
    celery_worker.start(
        {"SCRIPTED_AGENT_DELAY_SECONDS": "3"}, pool="threads", concurrency=64, queues="phases"
    )
    plans = [
        create_plan(
            Project.objects.create(title=f"Grid study {n:02d}", description="Storage at scale."),
            pipeline="nonfiction",
            agent_backend="scripted",
            actor="olivia",
        )
        for n in range(64)
    ]
    for plan in plans:
        start_pipeline(plan, actor="olivia")

    wait_until(
        lambda: Plan.objects.filter(status=Plan.Status.COMPLETE).count() == len(plans),
        timeout=120,
        interval=0.2,
        what=f"64 plans to complete; worker log tail:\n{celery_worker.log()[-3000:]}",
    )
    assert "database is locked" not in celery_worker.log()
    briefs = list(
        PlannerExecution.objects.filter(planner_slug="brief").values_list(
            "started_at", "finished_at"
        )
    )
    overlapping = max(
        sum(1 for start, end in briefs if start <= moment < end) for moment, _ in briefs
    )
    assert overlapping >= 48, f"only {overlapping} briefs were in flight at once"
    assert PhaseTranscript.objects.filter(outcome="passed").count() == 64 * 4
