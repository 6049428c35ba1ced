"""The scripted pipeline regression: one plan through all five phases, in the test process.

Tasks run eagerly and the after-commit callbacks that queue the next phases are executed, so the
whole chain — vision → iterative → chapter architect → scroll refiner → scene weaver — runs as on
a worker, with a scripted agent whose every call is counted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from cognition.agents.base import AgentError, AgentReply, ChatMessage
from cognition.agents.scripted import ScriptedAgent
from cognition.worker_identity import WorkerStart
from planners.actions import (
    create_plan,
    resume_backlog_item,
    resume_orphaned_items,
    start_pipeline,
)
from planners.demo import DEMO_PROJECT_TITLE, ensure_demo_pipeline, get_or_create_project
from planners.fiction.phases import Phase
from planners.fiction.scripted_replies import DEFAULT_REPLIES, VISION_REPLY
from planners.fiction.targets import targets
from planners.models import (
    ActionLogEntry,
    BacklogItem,
    BacklogStatus,
    BacklogTransition,
    ChapterBlueprint,
    ChapterScene,
    ChapterScroll,
    LoreRequirement,
    PhaseCheckpoint,
    PhaseTranscript,
    Plan,
    PlannerExecution,
)
from planners.pipeline.checkpoints import checkpoint_for, claim_checkpoint, phase_key
from planners.pipeline.phase import claim, spec_for
from planners.tasks import run_backlog_item_task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]

#: The command's --wait loop polls the database while the tasks run, so their after-commit
#: callbacks must fire as they would in production: a test with real transactions.
COMMITTED = pytest.mark.django_db(transaction=True)

FIVE_PHASES = [
    Phase.VISION,
    Phase.ITERATIVE,
    Phase.CHAPTER_ARCHITECT,
    Phase.SCROLL_REFINER,
    Phase.SCENE_WEAVER,
]


@pytest.fixture
def use_agent(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], Any]:
    """Make the phase tasks talk to ``agent`` (the model is the one thing outside the machine)."""

    def install(agent: Any) -> Any:
        monkeypatch.setattr("planners.tasks.get_agent_service", lambda backend=None: agent)
        return agent

    return install


@pytest.fixture
def agent(use_agent: Callable[[Any], Any]) -> ScriptedAgent:
    return use_agent(ScriptedAgent())


@pytest.fixture
def plan() -> Plan:
    project, _ = get_or_create_project(DEMO_PROJECT_TITLE)
    return create_plan(project, agent_backend="scripted", actor="olivia")


@pytest.fixture
def run_to_end(django_capture_on_commit_callbacks: Any) -> Callable[[Plan], None]:
    def run(plan: Plan) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            start_pipeline(plan, actor="olivia")
        plan.refresh_from_db()

    return run


def row_counts() -> dict[str, int]:
    return {
        "items": BacklogItem.objects.count(),
        "transitions": BacklogTransition.objects.count(),
        "checkpoints": PhaseCheckpoint.objects.count(),
        "transcripts": PhaseTranscript.objects.count(),
        "executions": PlannerExecution.objects.count(),
        "scenes": ChapterScene.objects.count(),
    }


def test_scripted_plan_runs_all_five_phases_to_complete(
    plan: Plan, agent: ScriptedAgent, run_to_end: Callable[[Plan], None]
) -> None:
    run_to_end(plan)

    assert [phase for phase, _ in agent.calls] == FIVE_PHASES
    assert plan.status == Plan.Status.COMPLETE

    items = list(plan.backlog_items.order_by("id"))
    assert {item.phase for item in items} == set(FIVE_PHASES)
    assert all(item.status == BacklogStatus.COMPLETE for item in items), [
        (item.backlog_id, item.status, item.last_error) for item in items
    ]
    assert all(item.agent_backend == "scripted" for item in items)

    checkpoints = list(plan.checkpoints.all())
    assert len(checkpoints) == len(items)
    assert all(cp.status == PhaseCheckpoint.Status.COMPLETE for cp in checkpoints)
    assert {cp.backlog_item_id for cp in checkpoints} == {item.pk for item in items}

    transcripts = list(plan.transcripts.all())
    assert len(transcripts) == 5
    by_item = {t.backlog_item_id: t for t in transcripts}
    for item in items:
        assert by_item[item.pk].metadata["backlogItemId"] in (item.backlog_id, item.pk)
        assert by_item[item.pk].phase == item.phase
        assert by_item[item.pk].validation_status == PhaseTranscript.Validation.PASSED
    scene_transcript = plan.transcripts.get(phase=Phase.SCENE_WEAVER)
    assert scene_transcript.metadata["sceneSlug"] == "mara-enters-the-archive"
    assert PlannerExecution.objects.filter(plan=plan, outcome="success").count() == 5

    blueprint = ChapterBlueprint.objects.get(plan=plan)
    assert blueprint.title
    assert blueprint.synopsis
    assert blueprint.beats.exists()
    scroll = ChapterScroll.objects.get(plan=plan)
    assert scroll.scroll_slug == "the-drowned-archive"
    assert scroll.sections.exists()
    scene = ChapterScene.objects.get(section__scroll=scroll)
    assert scene.scene_slug == "mara-enters-the-archive"
    assert scene.status == ChapterScene.Status.DRAFTED
    assert scene.prose
    assert targets(plan.backlog_items.get(phase=Phase.SCENE_WEAVER)).scene == scene


def test_every_phase_moves_through_start_and_complete(
    plan: Plan, agent: ScriptedAgent, run_to_end: Callable[[Plan], None]
) -> None:
    run_to_end(plan)

    for item in plan.backlog_items.all():
        reasons = list(
            item.transitions.filter(reason__startswith="phase-")
            .order_by("id")
            .values_list("reason", flat=True)
        )
        assert reasons == ["phase-start", "phase-complete"], item.backlog_id


def test_task_run_twice_for_the_same_item_writes_no_duplicates(
    plan: Plan, agent: ScriptedAgent, run_to_end: Callable[[Plan], None]
) -> None:
    run_to_end(plan)
    before = row_counts()
    calls = len(agent.calls)

    for item in plan.backlog_items.all():
        assert run_backlog_item_task.apply(args=(item.pk,)).get() == "already-complete"

    assert row_counts() == before
    assert len(agent.calls) == calls


def test_redelivered_task_whose_checkpoint_is_complete_does_nothing(
    plan: Plan, agent: ScriptedAgent, run_to_end: Callable[[Plan], None]
) -> None:
    run_to_end(plan)
    scene_item = plan.backlog_items.get(phase=Phase.SCENE_WEAVER)
    # The broker hands the task back although its phase committed (the ack was lost).
    BacklogItem.objects.filter(pk=scene_item.pk).update(status=BacklogStatus.IN_PROGRESS)
    before = row_counts()

    assert run_backlog_item_task.apply(args=(scene_item.pk,)).get() == "already-complete"

    assert row_counts() == before
    assert len(agent.calls) == 5


def test_checkpoint_held_by_a_live_worker_is_not_run_again(
    plan: Plan, agent: ScriptedAgent
) -> None:
    vision = plan.backlog_items.get()
    BacklogItem.objects.filter(pk=vision.pk).update(status=BacklogStatus.IN_PROGRESS)
    key = phase_key(vision, spec_for(vision))
    assert claim_checkpoint(checkpoint_for(vision, key), "another-worker-task")

    assert run_backlog_item_task.apply(args=(vision.pk,)).get() == "claimed-elsewhere"
    assert agent.calls == []
    assert PhaseCheckpoint.objects.count() == 1


class RedeliveredDuringTheCall(ScriptedAgent):
    """The scripted model; while it answers the first call, the broker hands back the message
    of task ``task_id`` for item ``item_id`` (Redis does, an hour after its worker was killed:
    its visibility timeout), which runs on another worker thread as the call goes on."""

    def __init__(self, item_id: int, task_id: str) -> None:
        super().__init__()
        self.item_id, self.task_id = item_id, task_id
        self.redelivered: list[str] = []

    def chat(self, messages: Any, *, phase: str = "", on_retry: Any = None) -> AgentReply:
        if not self.redelivered:
            self.redelivered.append("running")
            task = run_backlog_item_task.apply(args=(self.item_id,), task_id=self.task_id)
            self.redelivered[0] = str(task.result)
        return super().chat(messages, phase=phase)


def test_killed_workers_message_redelivered_after_its_restart_resumed_the_item_runs_nothing(
    plan: Plan,
    use_agent: Callable[[Any], Any],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    killed = WorkerStart(node="phases1@ops-box", instance="first-start")
    restarted = WorkerStart(node="phases1@ops-box", instance="second-start")
    monkeypatch.setattr("cognition.worker_identity._current", killed)
    with django_capture_on_commit_callbacks(execute=False):
        start_pipeline(plan, actor="olivia")
    vision = plan.backlog_items.get()
    # The killed start's task claimed the phase and asked the model (the attempt's row is
    # written before the call), then the whole worker was SIGKILLed.
    assert not isinstance(claim(vision, spec_for(vision), "task-killed", {}), str)
    vision.refresh_from_db()
    assert (vision.claimed_by, vision.claimed_by_instance) == (killed.node, killed.instance)
    PhaseTranscript.objects.create(
        plan=plan, phase=vision.phase, backlog_item=vision, outcome=PhaseTranscript.Outcome.RUNNING
    )

    monkeypatch.setattr("cognition.worker_identity._current", restarted)
    agent = use_agent(RedeliveredDuringTheCall(vision.pk, "task-killed"))
    with django_capture_on_commit_callbacks(execute=True):
        assert resume_orphaned_items(restarted, actor=restarted.node) == 1

    # The old message came back while the new task held the phase: it ran nothing.
    assert agent.redelivered == ["claimed-elsewhere"]
    plan.refresh_from_db()
    assert plan.status == Plan.Status.COMPLETE
    before, calls = row_counts(), len(agent.calls)
    # And once more after the phase completed: nothing either.
    assert run_backlog_item_task.apply(args=(vision.pk,), task_id="task-killed").get() == (
        "already-complete"
    )
    assert (row_counts(), len(agent.calls)) == (before, calls)
    assert [phase for phase, _ in agent.calls] == FIVE_PHASES
    vision.refresh_from_db()
    assert (vision.status, vision.attempts, vision.claimed_by) == (BacklogStatus.COMPLETE, 2, "")
    assert list(vision.transcripts.order_by("attempt").values_list("outcome", flat=True)) == [
        "interrupted",
        "passed",
    ]
    assert PlannerExecution.objects.filter(backlog_item=vision).count() == 1
    assert plan.checkpoints.get(backlog_item=vision).attempts == 2


class FlakyAgent(ScriptedAgent):
    """The scripted model behind a gateway that answers 503 ``failures`` times first."""

    def __init__(self, failures: int, *, permanent: bool = False) -> None:
        super().__init__()
        self.failures = failures
        self.permanent = permanent

    def chat(self, messages: Any, *, phase: str = "", on_retry: Any = None) -> AgentReply:
        if self.failures > 0:
            self.failures -= 1
            self.calls.append((phase, list[ChatMessage](messages)))
            status = 400 if self.permanent else 503
            raise AgentError(f"gateway said {status}", permanent=self.permanent, status_code=status)
        return super().chat(messages, phase=phase)


def test_transient_agent_error_is_retried_then_the_phase_completes(
    plan: Plan,
    use_agent: Callable[[Any], Any],
    run_to_end: Callable[[Plan], None],
    settings: Any,
) -> None:
    settings.AGENT_RETRY_BACKOFF_SECONDS = 0
    flaky = use_agent(FlakyAgent(failures=2))

    run_to_end(plan)

    assert plan.status == Plan.Status.COMPLETE
    vision = plan.backlog_items.get(phase=Phase.VISION)
    assert vision.attempts == 3
    assert plan.checkpoints.get(backlog_item=vision).attempts == 3
    assert len(flaky.calls) == 7


def test_permanent_agent_error_fails_the_item_without_retrying(
    plan: Plan,
    use_agent: Callable[[Any], Any],
    run_to_end: Callable[[Plan], None],
) -> None:
    flaky = use_agent(FlakyAgent(failures=1, permanent=True))

    run_to_end(plan)

    vision = plan.backlog_items.get()
    assert vision.status == BacklogStatus.FAILED
    assert "gateway said 400" in vision.last_error
    assert vision.transitions.order_by("id").last() == vision.transitions.get(reason="phase-failed")
    assert plan.checkpoints.get().status == PhaseCheckpoint.Status.FAILED
    assert len(flaky.calls) == 1
    assert plan.status == Plan.Status.BLOCKED


def test_retries_stop_after_the_configured_maximum(
    plan: Plan,
    use_agent: Callable[[Any], Any],
    run_to_end: Callable[[Plan], None],
    settings: Any,
) -> None:
    settings.AGENT_RETRY_BACKOFF_SECONDS = 0
    settings.PIPELINE_MAX_RETRIES = 2
    flaky = use_agent(FlakyAgent(failures=10))

    run_to_end(plan)

    vision = plan.backlog_items.get()
    assert vision.status == BacklogStatus.FAILED
    assert len(flaky.calls) == 3  # the first try and two retries


@COMMITTED
def test_run_pipeline_command_waits_and_prints_each_transition(
    agent: ScriptedAgent, capsys: Any
) -> None:
    call_command(
        "run_pipeline", "--wait", "--poll", "0.01", "--timeout", "20", "--actor", "cli:olivia"
    )

    out = capsys.readouterr().out
    plan = Plan.objects.get()
    assert plan.project.title == DEMO_PROJECT_TITLE
    assert plan.status == Plan.Status.COMPLETE
    for phase in FIVE_PHASES:
        assert f"{phase}" in out
    assert "vision-plan: pending → in_progress (phase-start)" in out
    assert f"plan {plan.pk} complete: 5 backlog items done." in out
    assert ActionLogEntry.objects.filter(action="run-pipeline", actor="cli:olivia").exists()


@COMMITTED
def test_run_pipeline_command_starts_a_fresh_branch_when_main_is_complete(
    plan: Plan, agent: ScriptedAgent
) -> None:
    start_pipeline(plan, actor="olivia")

    call_command("run_pipeline", "--wait", "--poll", "0.01", "--timeout", "20")

    fresh = Plan.objects.get(branch="run-2")
    assert fresh.status == Plan.Status.COMPLETE


@COMMITTED
def test_run_pipeline_command_exits_non_zero_when_the_plan_blocks(
    use_agent: Callable[[Any], Any],
) -> None:
    use_agent(FlakyAgent(failures=1, permanent=True))

    with pytest.raises(CommandError, match="is blocked") as blocked:
        call_command("run_pipeline", "--wait", "--poll", "0.01", "--timeout", "20")

    assert blocked.value.returncode == 1
    assert "resume_backlog" in str(blocked.value)


def test_demo_pipeline_is_queued_once(
    agent: ScriptedAgent, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = ensure_demo_pipeline()
        second = ensure_demo_pipeline()

    assert first is not None
    assert second is None
    first.refresh_from_db()
    assert first.status == Plan.Status.COMPLETE
    assert Plan.objects.count() == 1


def test_scroll_blocked_by_lore_blocks_the_plan_until_resolved_and_resumed(
    plan: Plan,
    use_agent: Callable[[Any], Any],
    run_to_end: Callable[[Plan], None],
    django_capture_on_commit_callbacks: Any,
) -> None:
    vision = json.loads(json.dumps(VISION_REPLY))
    vision["loreNeeds"].append(
        {
            "title": "Who leads the Lantern Guild",
            "requirementSlug": "guild-succession",
            "status": "planned",
            "description": "The scroll cannot be refined until the succession is settled.",
            "requiredFor": ["chapter-one-scroll"],
        }
    )
    agent = use_agent(ScriptedAgent(replies={**DEFAULT_REPLIES, "vision": json.dumps(vision)}))

    run_to_end(plan)

    scroll_item = plan.backlog_items.get(backlog_id="chapter-one-scroll")
    assert [phase for phase, _ in agent.calls] == FIVE_PHASES[:3]  # no call for the scroll
    assert scroll_item.status == BacklogStatus.BLOCKED
    assert "guild-succession" in scroll_item.last_error
    assert plan.status == Plan.Status.BLOCKED

    LoreRequirement.objects.filter(requirement_slug="guild-succession").update(
        status=LoreRequirement.Status.READY
    )
    with django_capture_on_commit_callbacks(execute=True):
        resume_backlog_item(scroll_item, actor="olivia")

    plan.refresh_from_db()
    assert plan.status == Plan.Status.COMPLETE
    assert [phase for phase, _ in agent.calls] == FIVE_PHASES
    scroll_item.refresh_from_db()
    reasons = list(scroll_item.transitions.order_by("id").values_list("reason", flat=True))
    assert reasons == [
        "vision-sync",
        "phase-start",
        "phase-blocked",
        "resume",
        "phase-start",
        "phase-complete",
    ]
