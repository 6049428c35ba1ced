"""Phase runners: what each phase writes, what blocks it, and that running twice is harmless.

The agent is the scripted one (deterministic replies keyed by phase); everything else is real:
the database, the planner framework, the catalog. Items are claimed here the way the pipeline
does it (``transition_backlog_item``), without Celery, to keep these tests about the runners.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from cognition.agents.base import AgentError, AgentReply, AgentService, ChatMessage
from cognition.agents.scripted import ScriptedAgent
from planners.fiction.scripted_replies import (
    CHAPTER_ARCHITECT_REPLY,
    DEFAULT_REPLIES,
    SCENE_PROSE,
    SCROLL_REFINER_REPLY,
    VISION_REPLY,
)
from planners.fiction.targets import targets
from planners.models import (
    BacklogItem,
    BacklogStatus,
    BacklogTransition,
    CastMember,
    ChapterBeat,
    ChapterBlueprint,
    ChapterScene,
    ChapterScroll,
    ChapterSection,
    FictionProfile,
    LoreRequirement,
    PhaseTranscript,
    Plan,
    PlannerExecution,
    PlanPass,
    Project,
    TelemetryEvent,
)
from planners.pipeline import phase, phase_record
from planners.pipeline.checkpoints import checkpoint_for, phase_key
from planners.pipeline.phase import PhaseResult
from planners.pipeline.plans import start_plan as create_plan
from planners.pipeline.transitions import transition_backlog_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def project() -> Project:
    project = Project.objects.create(
        title="The Lantern Cartographers",
        description="A tide-haunted mystery in a half-drowned city.",
    )
    FictionProfile.objects.create(
        project=project,
        logline="A cartographer learns the lantern routes were drawn to hide what the sea took.",
        author_persona_name="Ines Marlow",
        author_persona_summary="Writes quiet, precise mysteries.",
    )
    return project


@pytest.fixture
def plan(project: Project) -> Plan:
    return create_plan(project)


def _item(plan: Plan, backlog_id: str) -> BacklogItem:
    return BacklogItem.objects.get(plan=plan, backlog_id=backlog_id)


def _ready(plan: Plan) -> list[BacklogItem]:
    items = list(plan.backlog_items.order_by("position", "id"))
    done_tokens = {t for i in items if i.status == BacklogStatus.COMPLETE for t in i.outputs}
    produced = {t for i in items for t in i.outputs}
    return [
        i
        for i in items
        if i.status == BacklogStatus.PENDING
        and all(t in done_tokens or t not in produced for t in i.inputs)
    ]


def run_backlog_item(
    item: BacklogItem, agent: ScriptedAgent | AgentService, *, correlation_id: str, actor: str = ""
) -> PhaseResult:
    """The engine's run and record of the item's phase, its records only: the item's status is
    this test's to move (``_run``), so re-running a finished item exercises the runner."""
    spec = phase.spec_for(item)
    claimed = phase.Claim(item, spec, checkpoint_for(item, phase_key(item, spec)), owner="test")
    phase_run = phase.run(
        claimed, agent, correlation_id=correlation_id, actor=actor, heartbeat=False
    )
    return phase.record(phase_run, retries=None, close=False)


def _run(item: BacklogItem, agent: ScriptedAgent, *, finish: bool = True) -> PhaseResult:
    transition_backlog_item(item, BacklogStatus.IN_PROGRESS, reason="phase-start", actor="test")
    result = run_backlog_item(item, agent, correlation_id=f"test-{item.backlog_id}", actor="test")
    if finish:
        to_status = {
            "completed": BacklogStatus.COMPLETE,
            "blocked": BacklogStatus.BLOCKED,
        }.get(result.status, BacklogStatus.FAILED)
        transition_backlog_item(item, to_status, reason=f"phase-{result.status}", actor="test")
    return result


def _run_plan(plan: Plan, agent: ScriptedAgent) -> list[PhaseResult]:
    results = []
    for _ in range(10):
        ready = _ready(plan)
        if not ready:
            break
        for item in ready:
            results.append(_run(item, agent))
    return results


def _through(plan: Plan, agent: ScriptedAgent, backlog_id: str) -> None:
    """Run the plan's items in order up to (not including) ``backlog_id``."""
    for _ in range(10):
        ready = [i for i in _ready(plan) if i.backlog_id != backlog_id]
        if not ready:
            return
        for item in ready:
            assert _run(item, agent).status == "completed"


def _replies(**overrides: str | list[str]) -> dict[str, str | list[str]]:
    return {**DEFAULT_REPLIES, **overrides}


def test_scripted_plan_completes_in_five_agent_calls(plan: Plan) -> None:
    agent = ScriptedAgent()
    results = _run_plan(plan, agent)

    assert [r.status for r in results] == ["completed"] * 5
    assert [phase for phase, _ in agent.calls] == [
        "vision",
        "iterative",
        "chapterArchitect",
        "scrollRefiner",
        "sceneWeaver",
    ]
    items = list(plan.backlog_items.order_by("position", "id"))
    assert [(i.backlog_id, i.phase, i.status) for i in items] == [
        ("vision-plan", "vision", "complete"),
        ("outline-core-conflicts", "iterative", "complete"),
        ("chapter-one-blueprint", "chapterArchitect", "complete"),
        ("chapter-one-scroll", "scrollRefiner", "complete"),
        ("scene-the-drowned-archive-mara-enters-the-archive", "sceneWeaver", "complete"),
    ]

    scene = _assert_fiction_records(plan, items)
    _assert_transcripts(plan, items, scene)
    assert PlannerExecution.objects.filter(plan=plan, outcome="success").count() == 5


def _assert_fiction_records(plan: Plan, items: list[BacklogItem]) -> ChapterScene:
    """What the five replies materialised: vision, cast, lore, pass, chapter down to the scene
    (returned), and the scene item's target."""
    plan.refresh_from_db()
    assert plan.fiction_vision.author_summary.startswith("A quiet, tide-haunted mystery")
    assert plan.fiction_vision.open_questions == VISION_REPLY["openQuestions"]
    assert set(CastMember.objects.filter(plan=plan).values_list("name", "tier")) == {
        ("Mara Quell", "core"),
        ("Tobin Ash", "core"),
        ("Archivist Sel", "supporting"),
    }
    assert set(
        LoreRequirement.objects.filter(plan=plan).values_list("requirement_slug", "status")
    ) == {
        ("lantern-tide-rules", "ready"),
        ("vesper-reach-districts", "ready"),
    }
    assert list(PlanPass.objects.filter(plan=plan).values_list("iteration", flat=True)) == [1]

    blueprint = ChapterBlueprint.objects.get(plan=plan)
    assert blueprint.title == CHAPTER_ARCHITECT_REPLY["title"]
    assert list(blueprint.beats.values_list("slug", flat=True)) == ["the-descent", "the-ledger"]
    scroll = ChapterScroll.objects.get(plan=plan)
    assert (scroll.scroll_slug, scroll.blueprint_id) == ("the-drowned-archive", blueprint.pk)
    assert LoreRequirement.objects.get(requirement_slug="lantern-tide-rules").scroll == scroll
    section = ChapterSection.objects.get(scroll=scroll)
    assert section.section_slug == "below-the-waterline"
    scene = ChapterScene.objects.get(section=section)
    assert scene.status == ChapterScene.Status.DRAFTED
    assert scene.prose.startswith("# Mara Enters the Drowned Archive")
    assert scene.word_count > 500
    scene_item = items[-1]
    assert (targets(scene_item).scene, scene_item.inputs) == (scene, ["chapter-one-scroll"])
    return scene


def _assert_transcripts(plan: Plan, items: list[BacklogItem], scene: ChapterScene) -> None:
    """One passed transcript per item, with the metadata an operator reads."""
    transcripts = PhaseTranscript.objects.filter(plan=plan)
    assert transcripts.count() == 5
    for item in items:
        (transcript,) = transcripts.filter(backlog_item=item)
        assert transcript.metadata["backlogItemId"] == item.backlog_id
        assert transcript.metadata["phase"] == item.phase
        assert transcript.metadata["branch"] == "main"
        assert transcript.validation_status == "passed"
        assert transcript.execution is not None
        assert transcript.template_id.startswith("planner.fiction.")
        assert transcript.request[-1]["role"] == "user"
        assert transcript.response
        assert transcript.completion_tokens > 0
    scene_transcript = transcripts.get(backlog_item=items[-1])
    assert scene_transcript.metadata["sceneSlug"] == "mara-enters-the-archive"
    assert scene_transcript.metadata["sceneId"] == scene.pk
    assert scene_transcript.metadata["scrollSlug"] == "the-drowned-archive"
    scroll_transcript = transcripts.get(backlog_item__backlog_id="chapter-one-scroll")
    assert scroll_transcript.metadata["scrollSlug"] == "the-drowned-archive"
    assert scroll_transcript.metadata["materialised"]["scenes"] == ["mara-enters-the-archive"]


def test_vision_adds_pending_items_with_a_vision_sync_transition(plan: Plan) -> None:
    result = _run(_item(plan, "vision-plan"), ScriptedAgent())

    assert result.status == "completed"
    assert result.summary["created"] == [
        "outline-core-conflicts",
        "chapter-one-blueprint",
        "chapter-one-scroll",
    ]
    added = BacklogItem.objects.filter(plan=plan).exclude(backlog_id="vision-plan")
    assert {i.status for i in added} == {"pending"}
    for item in added:
        (transition,) = item.transitions.all()
        assert (transition.from_status, transition.to_status, transition.reason) == (
            "",
            "pending",
            "vision-sync",
        )
    chapter = _item(plan, "chapter-one-blueprint")
    scroll_item = _item(plan, "chapter-one-scroll")
    blueprint = targets(chapter).blueprint
    assert blueprint is not None
    assert blueprint.slug == "chapter-one-blueprint"
    assert targets(scroll_item).blueprint == blueprint


def test_vision_rerun_never_resets_or_deletes_started_or_completed_items(
    plan: Plan,
) -> None:
    agent = ScriptedAgent()
    _run(_item(plan, "vision-plan"), agent)
    _run(_item(plan, "outline-core-conflicts"), agent)  # completed
    chapter = _item(plan, "chapter-one-blueprint")
    transition_backlog_item(chapter, BacklogStatus.IN_PROGRESS, reason="phase-start")

    # The new vision drops every pass it listed before and adds a different one.
    revised = json.loads(json.dumps(VISION_REPLY))
    revised["planningBacklog"] = [
        {
            "id": "outline-antagonists",
            "description": "A pass on the Lantern Guild as antagonist.",
            "inputs": ["vision"],
            "outputs": ["antagonists"],
        }
    ]
    vision = _item(plan, "vision-plan")
    transition_backlog_item(vision, BacklogStatus.PENDING, reason="resume")
    result = _run(vision, ScriptedAgent(replies=_replies(vision=json.dumps(revised))))

    assert result.status == "completed"
    statuses = dict(plan.backlog_items.values_list("backlog_id", "status"))
    assert statuses == {
        "vision-plan": "complete",
        "outline-core-conflicts": "complete",
        "chapter-one-blueprint": "in_progress",
        "outline-antagonists": "pending",
    }
    # Never-run pending items the new vision no longer lists are gone; started ones are not.
    assert result.summary["removed"] == ["chapter-one-scroll"]
    assert PlanPass.objects.filter(plan=plan).count() == 1


def test_vision_rerun_updates_pending_items_in_place(plan: Plan) -> None:
    _run(_item(plan, "vision-plan"), ScriptedAgent())
    revised = json.loads(json.dumps(VISION_REPLY))
    revised["planningBacklog"][0]["description"] = "A sharper pass on the core conflicts."
    vision = _item(plan, "vision-plan")
    transition_backlog_item(vision, BacklogStatus.PENDING, reason="resume")
    result = _run(vision, ScriptedAgent(replies=_replies(vision=json.dumps(revised))))

    assert result.summary["updated"] == ["outline-core-conflicts"]
    item = _item(plan, "outline-core-conflicts")
    assert item.description == "A sharper pass on the core conflicts."
    assert item.transitions.count() == 1  # no status change, no new transition
    assert plan.backlog_items.count() == 4


def test_running_each_phase_twice_writes_no_duplicate_rows(plan: Plan) -> None:
    agent = ScriptedAgent()
    for item in list(plan.backlog_items.all()):
        _run(item, agent)
    for backlog_id in ("outline-core-conflicts", "chapter-one-blueprint", "chapter-one-scroll"):
        item = _item(plan, backlog_id)
        _run(item, agent)
        transition_backlog_item(item, BacklogStatus.PENDING, reason="resume")
        _run(item, agent)
    _run_plan(plan, agent)
    scene_item = plan.backlog_items.get(phase="sceneWeaver")
    transition_backlog_item(scene_item, BacklogStatus.PENDING, reason="resume")
    assert _run(scene_item, agent).status == "completed"
    vision = _item(plan, "vision-plan")
    transition_backlog_item(vision, BacklogStatus.PENDING, reason="resume")
    assert _run(vision, agent).status == "completed"

    assert PlanPass.objects.filter(plan=plan).count() == 1
    assert ChapterBlueprint.objects.filter(plan=plan).count() == 1
    assert ChapterBeat.objects.filter(blueprint__plan=plan).count() == 2
    assert ChapterScroll.objects.filter(plan=plan).count() == 1
    assert ChapterSection.objects.filter(scroll__plan=plan).count() == 1
    assert ChapterScene.objects.filter(section__scroll__plan=plan).count() == 1
    assert CastMember.objects.filter(plan=plan).count() == 3
    assert LoreRequirement.objects.filter(plan=plan).count() == 2
    assert plan.backlog_items.count() == 5
    # Transcripts are per attempt, numbered across runs of the same item.
    attempts = PhaseTranscript.objects.filter(backlog_item__backlog_id="chapter-one-scroll")
    assert sorted(attempts.values_list("attempt", flat=True)) == [1, 2]


def test_scroll_blocked_by_unresolved_lore_makes_no_agent_call(plan: Plan) -> None:
    _through(plan, ScriptedAgent(), "chapter-one-scroll")
    LoreRequirement.objects.create(
        plan=plan,
        requirement_slug="guild-succession",
        title="Who leads the Lantern Guild",
        status=LoreRequirement.Status.PLANNED,
        required_for=["chapter-one-scroll"],
    )
    LoreRequirement.objects.create(  # bound elsewhere: does not block this scroll
        plan=plan,
        requirement_slug="harbour-law",
        title="Harbour law",
        status=LoreRequirement.Status.BLOCKED,
        required_for=["chapter-two-scroll"],
    )
    agent = ScriptedAgent()
    result = _run(_item(plan, "chapter-one-scroll"), agent)

    assert agent.calls == []
    assert result.status == "blocked"
    assert "guild-succession" in result.reason
    assert "harbour-law" not in result.reason
    (transcript,) = PhaseTranscript.objects.filter(backlog_item__backlog_id="chapter-one-scroll")
    assert transcript.validation_status == "skipped"
    assert "guild-succession" in transcript.validation_details[0]
    assert transcript.metadata["backlogItemId"] == "chapter-one-scroll"
    assert not ChapterScroll.objects.filter(plan=plan).exists()


def test_plan_wide_unresolved_lore_blocks_the_scene(plan: Plan) -> None:
    agent = ScriptedAgent()
    _through(plan, agent, "scene-the-drowned-archive-mara-enters-the-archive")
    LoreRequirement.objects.create(
        plan=plan,
        requirement_slug="the-blank-district",
        title="What the blank district was",
        status=LoreRequirement.Status.BLOCKED,
    )
    calls_before = len(agent.calls)
    scene_item = plan.backlog_items.get(phase="sceneWeaver")
    result = _run(scene_item, agent)

    assert (result.status, len(agent.calls)) == ("blocked", calls_before)
    assert "the-blank-district" in result.reason
    assert ChapterScene.objects.get().status == ChapterScene.Status.BLOCKED


def test_invalid_scroll_json_twice_blocks_and_records_both_attempts(plan: Plan) -> None:
    _through(plan, ScriptedAgent(), "chapter-one-scroll")
    broken = json.loads(json.dumps(SCROLL_REFINER_REPLY))
    del broken["sections"][0]["scenes"][0]["sceneSlug"]
    first = "```json\n" + json.dumps(broken) + "\n```"
    second = '{"scrollSlug": "the-drowned-archive", "title": "The Drowned Archive"'
    agent = ScriptedAgent(replies=_replies(scrollRefiner=[first, second]))
    result = _run(_item(plan, "chapter-one-scroll"), agent)

    assert result.status == "blocked"
    assert "after one repair attempt" in result.reason
    assert len(agent.calls) == 2
    repair_prompt = agent.calls[1][1][-1].content
    assert "sections[0].scenes[0].sceneSlug: field required" in repair_prompt
    transcripts = list(
        PhaseTranscript.objects.filter(backlog_item__backlog_id="chapter-one-scroll").order_by(
            "attempt"
        )
    )
    assert [(t.attempt, t.is_retry, t.validation_status) for t in transcripts] == [
        (1, False, "failed"),
        (2, True, "failed"),
    ]
    assert [t.response for t in transcripts] == [first, second]
    assert transcripts[0].validation_details == ["sections[0].scenes[0].sceneSlug: field required"]
    assert transcripts[1].validation_details[0].startswith("reply: not valid JSON")
    execution = transcripts[0].execution
    assert execution is not None
    assert execution == transcripts[1].execution
    assert execution.outcome == "blocked"
    assert not ChapterScroll.objects.filter(plan=plan).exists()


def test_repaired_reply_completes_the_phase(plan: Plan) -> None:
    _through(plan, ScriptedAgent(), "chapter-one-blueprint")
    agent = ScriptedAgent(
        replies=_replies(
            chapterArchitect=['{"title": "Chapter One"}', DEFAULT_REPLIES["chapterArchitect"]]
        )
    )
    result = _run(_item(plan, "chapter-one-blueprint"), agent)

    assert result.status == "completed"
    statuses = PhaseTranscript.objects.filter(
        backlog_item__backlog_id="chapter-one-blueprint"
    ).order_by("attempt")
    assert [t.validation_status for t in statuses] == ["failed", "passed"]
    assert ChapterBeat.objects.filter(blueprint__plan=plan).count() == 2


def test_scene_failing_the_coverage_gate_is_blocked_naming_missing_entities(
    plan: Plan,
) -> None:
    _through(plan, ScriptedAgent(), "scene-the-drowned-archive-mara-enters-the-archive")
    off_topic = "The harbour was quiet that morning, and the gulls circled the boats. " * 20
    agent = ScriptedAgent(replies=_replies(sceneWeaver=off_topic))
    scene_item = plan.backlog_items.get(phase="sceneWeaver")
    result = _run(scene_item, agent)

    assert result.status == "blocked"
    assert "Tide Ledger" in result.reason
    assert "Mara Quell" in result.reason
    scene = ChapterScene.objects.get()
    assert (scene.status, scene.prose) == (ChapterScene.Status.BLOCKED, "")
    transcripts = PhaseTranscript.objects.filter(backlog_item=scene_item)
    assert [t.validation_status for t in transcripts.order_by("attempt")] == ["failed", "failed"]
    assert all(t.metadata["sceneSlug"] == "mara-enters-the-archive" for t in transcripts)


def _scene_run(plan: Plan, replies: list[str]) -> tuple[PhaseResult, ScriptedAgent]:
    """Run the plan up to its scene, then the scene with the Scene Weaver saying ``replies``."""
    _through(plan, ScriptedAgent(), "scene-the-drowned-archive-mara-enters-the-archive")
    agent = ScriptedAgent(replies=_replies(sceneWeaver=replies))
    return _run(plan.backlog_items.get(phase="sceneWeaver"), agent), agent


def _scene_attempts(plan: Plan) -> list[tuple[str, list[str]]]:
    transcripts = PhaseTranscript.objects.filter(
        backlog_item__plan=plan, backlog_item__phase="sceneWeaver"
    ).order_by("attempt")
    return [(t.validation_status, t.validation_details) for t in transcripts]


def test_json_reply_twice_blocks_the_scene(plan: Plan) -> None:
    as_json = json.dumps({"title": "Mara Enters the Drowned Archive", "prose": SCENE_PROSE})
    result, agent = _scene_run(plan, [as_json, "```json\n" + as_json + "\n```"])

    assert result.status == "blocked"
    assert "the reply is a JSON document, not Markdown prose" in result.reason
    assert len(agent.calls) == 2
    assert "the reply is a JSON document" in agent.calls[1][1][-1].content
    assert [status for status, _ in _scene_attempts(plan)] == ["failed", "failed"]
    scene = ChapterScene.objects.get()
    assert (scene.status, scene.prose) == (ChapterScene.Status.BLOCKED, "")


def test_prose_without_heading_gets_a_repair_attempt(plan: Plan) -> None:
    headless = SCENE_PROSE.split("\n", 1)[1]
    result, agent = _scene_run(plan, [headless, SCENE_PROSE])

    assert result.status == "completed"
    assert len(agent.calls) == 2
    repair_prompt = agent.calls[1][1][-1].content
    assert 'the reply does not start with a "# " heading' in repair_prompt
    heading_error = (
        'the reply does not start with a "# " heading; put "# " and the scene title on the '
        "first line"
    )
    assert _scene_attempts(plan) == [("failed", [heading_error]), ("passed", [])]


def test_prose_outside_word_range_twice_blocks_the_scene(
    plan: Plan, settings: SettingsWrapper
) -> None:
    settings.SCENE_MAX_WORDS = 200
    result, agent = _scene_run(plan, [SCENE_PROSE])

    assert result.status == "blocked"
    assert "over the maximum of 200" in result.reason
    assert len(agent.calls) == 2
    assert ChapterScene.objects.get().status == ChapterScene.Status.BLOCKED


def test_repaired_prose_completes_the_scene(plan: Plan) -> None:
    as_json = json.dumps({"prose": SCENE_PROSE})
    result, _ = _scene_run(plan, [as_json, "```markdown\n" + SCENE_PROSE + "\n```"])

    assert result.status == "completed"
    assert [status for status, _ in _scene_attempts(plan)] == ["failed", "passed"]
    scene = ChapterScene.objects.get()
    assert scene.status == ChapterScene.Status.DRAFTED
    assert scene.prose == SCENE_PROSE.strip()
    assert plan.backlog_items.get(phase="sceneWeaver").status == BacklogStatus.COMPLETE


class _FlakyAgent:
    """An agent whose provider is down: stands in for the network outside the machine."""

    provider = "openai"
    model = "gpt-test"

    def chat(
        self, messages: Sequence[ChatMessage], *, phase: str = "", on_retry: Any = None
    ) -> AgentReply:
        raise AgentError("HTTP 503 from the provider", permanent=False, status_code=503)


def test_transient_agent_error_is_retryable_and_recorded(plan: Plan) -> None:
    item = _item(plan, "vision-plan")
    transition_backlog_item(item, BacklogStatus.IN_PROGRESS, reason="phase-start")
    result = run_backlog_item(item, _FlakyAgent(), correlation_id="flaky-1")

    assert (result.status, result.retryable) == ("failed", True)
    assert "503" in result.reason
    (transcript,) = PhaseTranscript.objects.filter(backlog_item=item)
    assert transcript.execution is not None
    assert transcript.execution.outcome == "failed"
    assert "503" in transcript.metadata["error"]
    assert transcript.request[-1]["role"] == "user"
    assert plan.backlog_items.count() == 1  # nothing materialised


def test_create_plan_returns_the_existing_plan(project: Project) -> None:
    first = create_plan(project)
    again = create_plan(project, name="Another name")
    other_branch = create_plan(project, branch="draft-two")

    assert again == first
    assert other_branch != first
    assert first.name == "The Lantern Cartographers (main)"
    (item,) = first.backlog_items.all()
    assert (item.backlog_id, item.phase, item.status, item.outputs) == (
        "vision-plan",
        "vision",
        "pending",
        ["vision"],
    )
    assert BacklogTransition.objects.filter(item=item).count() == 1


def test_second_iterative_pass_builds_on_the_first(plan: Plan) -> None:
    two_passes = json.loads(json.dumps(VISION_REPLY))
    two_passes["planningBacklog"] = [
        {
            "id": "outline-core-conflicts",
            "description": "First pass.",
            "inputs": ["vision"],
            "outputs": ["core-conflicts"],
        },
        {
            "id": "deepen-the-guild",
            "description": "Second pass.",
            "inputs": ["core-conflicts"],
            "outputs": ["guild-notes"],
        },
    ]
    agent = ScriptedAgent(replies=_replies(vision=json.dumps(two_passes)))
    results = _run_plan(plan, agent)

    assert [r.status for r in results] == ["completed"] * 3
    passes = PlanPass.objects.filter(plan=plan).order_by("iteration")
    assert [(p.iteration, p.backlog_item.backlog_id) for p in passes if p.backlog_item] == [
        (1, "outline-core-conflicts"),
        (2, "deepen-the-guild"),
    ]
    second_prompt = agent.calls[2][1][-1].content
    assert "This is planning pass 2." in second_prompt
    assert "Pass 1:" in second_prompt


def test_seeded_template_version_is_recorded_on_transcripts(plan: Plan) -> None:
    from cognition.seeding import seed_planner_templates

    seed_planner_templates()
    result = _run(_item(plan, "vision-plan"), ScriptedAgent())

    assert result.status == "completed"
    (transcript,) = PhaseTranscript.objects.filter(backlog_item__backlog_id="vision-plan")
    assert (transcript.template_id, transcript.template_version) == ("planner.fiction.vision", 1)
    assert transcript.execution is not None
    assert transcript.execution.used_fallback is False
    assert 'planning the novel "The Lantern Cartographers"' in transcript.request[-1]["content"]


def test_phase_records_and_its_closing_are_stored_together_or_not_at_all(
    plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = _item(plan, "vision-plan")
    closed: list[PhaseResult] = []
    real_close = phase_record._close

    def close_then_fail(claimed: phase.Claim, result: PhaseResult, **kwargs: str) -> None:
        closed.append(result)
        raise RuntimeError("the database went away while closing the phase")

    monkeypatch.setattr(phase_record, "_close", close_then_fail)
    with pytest.raises(RuntimeError):
        phase.run_item_phase(item, ScriptedAgent(), correlation_id="torn-1", owner="torn")

    assert [r.status for r in closed] == ["completed"]
    # One transaction: nothing of the phase is half-written.
    assert not PlannerExecution.objects.exists()
    assert not TelemetryEvent.objects.exists()
    assert not CastMember.objects.exists()
    assert plan.backlog_items.count() == 1
    # Only the attempt itself, written when it started, says the model was asked.
    (started,) = PhaseTranscript.objects.all()
    assert (started.outcome, started.execution_id) == ("running", None)

    monkeypatch.setattr(phase_record, "_close", real_close)
    item.refresh_from_db()
    result = phase.run_item_phase(item, ScriptedAgent(), correlation_id="torn-2", owner="torn")

    assert isinstance(result, PhaseResult)
    assert result.status == "completed"
    assert PlannerExecution.objects.get().correlation_id == "torn-2"
    assert list(
        PhaseTranscript.objects.filter(backlog_item=item)
        .order_by("attempt")
        .values_list("attempt", "outcome")
    ) == [(1, "interrupted"), (2, "passed")]
    assert plan.backlog_items.count() == 4
    item.refresh_from_db()
    assert item.status == "complete"
