"""Resuming backlog items: by an operator, by the command, by the stale sweep and by a worker
that started again (what its earlier start held)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cognition.worker_identity import WorkerStart
from planners.actions import (
    ResumeRefused,
    can_resume,
    resume_backlog_item,
    resume_orphaned_items,
    sweep_stale_items,
)
from planners.fiction.phases import Phase
from planners.models import (
    ActionLogEntry,
    BacklogItem,
    BacklogStatus,
    ContractDriftEvent,
    PhaseCheckpoint,
    Plan,
    Project,
)
from planners.tasks import resume_items_of_the_earlier_start, sweep_stale_backlog


@pytest.fixture
def plan() -> Plan:
    project = Project.objects.create(title="The Lantern Archive")
    return Plan.objects.create(
        project=project, name="Lantern main", branch="main", status=Plan.Status.BLOCKED
    )


def make_item(
    plan: Plan,
    backlog_id: str,
    status: str,
    *,
    heartbeat_age: timedelta | None = None,
    inputs: list[str] | None = None,
    outputs: list[str] | None = None,
) -> BacklogItem:
    now = timezone.now()
    beat = now - heartbeat_age if heartbeat_age is not None else None
    return BacklogItem.objects.create(
        plan=plan,
        backlog_id=backlog_id,
        phase=Phase.ITERATIVE,
        status=status,
        inputs=inputs or [],
        outputs=outputs or [backlog_id],
        agent_backend="scripted",
        agent_provider="scripted",
        agent_model="scripted",
        heartbeat_at=beat,
        in_progress_at=beat,
    )


@pytest.mark.django_db
def test_complete_item_is_refused_with_a_clear_message(plan: Plan) -> None:
    item = make_item(plan, "outline-core-conflicts", BacklogStatus.COMPLETE)

    with pytest.raises(ResumeRefused, match="already complete; there is nothing to resume"):
        resume_backlog_item(item, actor="olivia")

    item.refresh_from_db()
    assert item.status == BacklogStatus.COMPLETE
    assert not item.transitions.exists()


@pytest.mark.django_db
def test_running_item_with_a_fresh_heartbeat_cannot_be_resumed(plan: Plan) -> None:
    item = make_item(
        plan, "outline-core-conflicts", BacklogStatus.IN_PROGRESS, heartbeat_age=timedelta(0)
    )

    allowed, reason = can_resume(item)

    assert not allowed
    assert "running on a worker" in reason


@pytest.mark.django_db
def test_blocked_item_goes_back_to_pending_and_is_queued(
    plan: Plan, django_capture_on_commit_callbacks
) -> None:
    item = make_item(plan, "outline-core-conflicts", BacklogStatus.BLOCKED)
    PhaseCheckpoint.objects.create(
        plan=plan,
        phase_key="iterative|main|item:outline-core-conflicts",
        phase=Phase.ITERATIVE,
        backlog_item=item,
        status=PhaseCheckpoint.Status.BLOCKED,
        lock_owner="task-1",
    )

    with django_capture_on_commit_callbacks(execute=False) as queued:
        result = resume_backlog_item(item, actor="olivia")

    assert result.previous_status == BacklogStatus.BLOCKED
    assert result.queued
    assert len(queued) == 1
    reasons = list(item.transitions.order_by("id").values_list("to_status", "reason", "actor"))
    assert reasons == [
        (BacklogStatus.PENDING, "resume", "olivia"),
        (BacklogStatus.IN_PROGRESS, "phase-start", "olivia"),
    ]
    checkpoint = item.checkpoints.get()
    assert (checkpoint.status, checkpoint.lock_owner) == (PhaseCheckpoint.Status.PENDING, "")
    entry = ActionLogEntry.objects.get(action="resume")
    assert entry.actor == "olivia"
    assert entry.detail["backlog_id"] == "outline-core-conflicts"
    plan.refresh_from_db()
    assert plan.status == Plan.Status.IN_PROGRESS


@pytest.mark.django_db
def test_resumed_item_waits_for_an_unfinished_dependency(
    plan: Plan, django_capture_on_commit_callbacks
) -> None:
    make_item(plan, "outline-core-conflicts", BacklogStatus.FAILED, outputs=["core-conflicts"])
    blueprint = make_item(
        plan, "chapter-one-blueprint", BacklogStatus.FAILED, inputs=["core-conflicts"]
    )

    with django_capture_on_commit_callbacks(execute=False):
        result = resume_backlog_item(blueprint, actor="olivia")

    assert not result.queued
    assert result.item.status == BacklogStatus.PENDING


@pytest.mark.django_db
def test_resume_with_another_agent_records_contract_drift_and_is_refused(
    plan: Plan,
) -> None:
    item = make_item(plan, "chapter-one-scroll", BacklogStatus.FAILED)

    with pytest.raises(ResumeRefused, match="different agent contract") as refused:
        resume_backlog_item(item, actor="olivia", agent_backend="openai", model="gpt-4o-mini")

    drift = ContractDriftEvent.objects.get()
    assert refused.value.drift == drift
    assert drift.item == item
    assert drift.requested == {"agent_backend": "openai", "agent_model": "gpt-4o-mini"}
    assert drift.recorded == {"agent_backend": "scripted", "agent_model": "scripted"}
    assert drift.actor == "olivia"
    item.refresh_from_db()
    assert item.status == BacklogStatus.FAILED
    assert ActionLogEntry.objects.get().action == "resume-refused"


@pytest.mark.django_db
def test_resume_matching_the_recorded_agent_is_not_drift(
    plan: Plan, django_capture_on_commit_callbacks
) -> None:
    item = make_item(plan, "chapter-one-scroll", BacklogStatus.FAILED)

    with django_capture_on_commit_callbacks(execute=False):
        resume_backlog_item(item, actor="olivia", agent_backend="scripted", provider="scripted")

    assert not ContractDriftEvent.objects.exists()


@pytest.mark.django_db
def test_sweep_auto_resumes_only_items_with_a_stale_heartbeat(
    plan: Plan, settings, django_capture_on_commit_callbacks
) -> None:
    settings.BACKLOG_STALE_AFTER_SECONDS = 3600
    stale = make_item(
        plan, "outline-core-conflicts", BacklogStatus.IN_PROGRESS, heartbeat_age=timedelta(hours=2)
    )
    alive = make_item(
        plan, "cast-pass", BacklogStatus.IN_PROGRESS, heartbeat_age=timedelta(minutes=5)
    )

    with django_capture_on_commit_callbacks(execute=False) as queued:
        resumed = sweep_stale_backlog()

    assert resumed == 1
    assert len(queued) == 1
    reasons = list(stale.transitions.order_by("id").values_list("reason", flat=True))
    assert reasons == ["auto-resume", "phase-start"]  # back to pending, then queued right away
    stale.refresh_from_db()
    assert stale.status == BacklogStatus.IN_PROGRESS
    assert stale.heartbeat_at is not None
    assert stale.heartbeat_at > timezone.now() - timedelta(minutes=1)
    assert not alive.transitions.exists()
    entry = ActionLogEntry.objects.get()
    assert (entry.action, entry.actor) == ("auto-resume", "sweep")


#: The start of ``phases1`` running now, and the earlier one that was killed.
RESTARTED = WorkerStart(node="phases1@ops-box", instance="second-start")
KILLED = WorkerStart(node="phases1@ops-box", instance="first-start")


def claim_for(item: BacklogItem, worker: WorkerStart) -> None:
    """Record ``item`` as held by ``worker`` (what its phase's claim writes) with a running
    checkpoint under the task's id."""
    BacklogItem.objects.filter(pk=item.pk).update(
        claimed_by=worker.node, claimed_by_instance=worker.instance
    )
    PhaseCheckpoint.objects.update_or_create(
        plan=item.plan,
        phase_key=f"iterative|main|item:{item.backlog_id}",
        defaults={
            "phase": item.phase,
            "backlog_item": item,
            "status": PhaseCheckpoint.Status.RUNNING,
            "lock_owner": f"task-{item.backlog_id}",
            "heartbeat_at": item.heartbeat_at,
        },
    )


@pytest.fixture
def running_items(plan: Plan) -> dict[str, BacklogItem]:
    """Four items in progress, heartbeats fresh: held by the killed start of ``phases1``, by its
    current start, by another node's worker, and queued (held by no worker yet)."""
    fresh = timedelta(seconds=5)
    items = {
        name: make_item(plan, name, BacklogStatus.IN_PROGRESS, heartbeat_age=fresh)
        for name in ("killed-start", "current-start", "other-node", "queued")
    }
    claim_for(items["killed-start"], KILLED)
    claim_for(items["current-start"], RESTARTED)
    claim_for(items["other-node"], WorkerStart(node="phases2@ops-box", instance="first-start"))
    return items


def reasons_and_actors(item: BacklogItem) -> list[tuple[str, str]]:
    return list(item.transitions.order_by("id").values_list("reason", "actor"))


@pytest.mark.django_db
def test_restarted_worker_resumes_at_once_only_what_its_earlier_start_held(
    running_items: dict[str, BacklogItem], django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as queued:
        resumed = resume_orphaned_items(RESTARTED, actor=RESTARTED.node)

    assert resumed == 1
    assert len(queued) == 1
    orphan = running_items["killed-start"]
    # The stale sweep's path: back to pending, queued again, checkpoint freed for the new task.
    assert reasons_and_actors(orphan) == [
        ("auto-resume", "phases1@ops-box"),
        ("phase-start", "phases1@ops-box"),
    ]
    orphan.refresh_from_db()
    assert (orphan.status, orphan.claimed_by, orphan.claimed_by_instance) == (
        BacklogStatus.IN_PROGRESS,
        "",
        "",
    )
    checkpoint = orphan.checkpoints.get()
    assert (checkpoint.status, checkpoint.lock_owner) == (PhaseCheckpoint.Status.PENDING, "")
    entry = ActionLogEntry.objects.get()
    assert (entry.action, entry.actor) == ("auto-resume", "phases1@ops-box")
    for name in ("current-start", "other-node", "queued"):
        assert not running_items[name].transitions.exists(), name
    # An operator still waits for the heartbeat of an item whose worker may be alive.
    assert not can_resume(running_items["other-node"])[0]


@pytest.mark.django_db
def test_another_nodes_item_waits_for_the_stale_rule(
    running_items: dict[str, BacklogItem], settings, django_capture_on_commit_callbacks
) -> None:
    other = running_items["other-node"]

    with django_capture_on_commit_callbacks(execute=False):
        assert sweep_stale_items(actor="sweep", worker=RESTARTED) == 1  # the killed start's
        assert not other.transitions.exists()
        BacklogItem.objects.filter(pk=other.pk).update(
            heartbeat_at=timezone.now()
            - timedelta(seconds=settings.BACKLOG_STALE_AFTER_SECONDS + 1)
        )
        assert sweep_stale_items(actor="sweep", worker=RESTARTED) == 1

    assert reasons_and_actors(other) == [("auto-resume", "sweep"), ("phase-start", "sweep")]
    assert not running_items["current-start"].transitions.exists()


@pytest.mark.django_db
def test_worker_start_and_the_sweep_task_resume_for_the_worker_they_run_in(
    running_items: dict[str, BacklogItem],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks,
) -> None:
    monkeypatch.setattr("cognition.worker_identity._current", RESTARTED)
    orphan = running_items["killed-start"]

    with django_capture_on_commit_callbacks(execute=False):
        resume_items_of_the_earlier_start()
        claim_for(orphan, KILLED)  # as if it had been claimed again, and that start killed too
        assert sweep_stale_backlog() == 1

    assert [reason for reason, _ in reasons_and_actors(orphan)] == [
        "auto-resume",
        "phase-start",
        "auto-resume",
        "phase-start",
    ]
    assert not running_items["current-start"].transitions.exists()


@pytest.mark.django_db
def test_resume_command_explains_a_refusal_and_fails(plan: Plan) -> None:
    make_item(plan, "outline-core-conflicts", BacklogStatus.COMPLETE)

    with pytest.raises(CommandError, match="already complete"):
        call_command("resume_backlog", str(plan.pk), "outline-core-conflicts")


@pytest.mark.django_db
def test_resume_command_names_the_plans_items_when_the_id_is_unknown(plan: Plan) -> None:
    make_item(plan, "outline-core-conflicts", BacklogStatus.FAILED)

    with pytest.raises(CommandError, match=r"Items of plan \d+: outline-core-conflicts"):
        call_command("resume_backlog", str(plan.pk), "no-such-item")


@pytest.mark.django_db
def test_resume_command_says_when_the_plan_itself_is_unknown(plan: Plan) -> None:
    missing = plan.pk + 1000
    with pytest.raises(CommandError, match=rf"^No plan with id {missing}\.$"):
        call_command("resume_backlog", str(missing), "vision-plan")


@pytest.mark.django_db
def test_resume_command_requeues_a_failed_item(
    plan: Plan, django_capture_on_commit_callbacks, capsys: pytest.CaptureFixture[str]
) -> None:
    make_item(plan, "outline-core-conflicts", BacklogStatus.FAILED)

    with django_capture_on_commit_callbacks(execute=False):
        call_command(
            "resume_backlog", str(plan.pk), "outline-core-conflicts", "--actor", "cli:olivia"
        )

    assert "failed → pending): queued on the worker" in capsys.readouterr().out
    assert ActionLogEntry.objects.get().actor == "cli:olivia"
