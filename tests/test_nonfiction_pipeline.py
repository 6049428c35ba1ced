"""The scripted non-fiction pipeline: one plan from brief to section drafts, in the test process.

Tasks run eagerly and the after-commit callbacks that queue the next phases are executed, so the
chain brief → outline → two section drafts runs as on a worker, with a scripted agent whose
every call is counted. The runners are also driven directly, for what the engine does not
show: a re-run outline's idempotency, and a section item that has no section.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from cognition.agents.scripted import ScriptedAgent
from planners.actions import create_plan, start_pipeline
from planners.models import (
    BacklogItem,
    BacklogStatus,
    BacklogTransition,
    PhaseTranscript,
    Plan,
    PlannerExecution,
    Project,
)
from planners.models.nonfiction import NonfictionBrief, NonfictionOutline, OutlineSection
from planners.nonfiction.brief import BriefParams
from planners.nonfiction.records import records_context
from planners.nonfiction.runners import BriefRunner, OutlineRunner, SectionDraftRunner
from planners.nonfiction.schemas import OutlineReply
from planners.nonfiction.scripted_replies import DEFAULT_REPLIES, OUTLINE_REPLY
from planners.pipeline.backlog import NewItem, add_backlog_items
from planners.pipeline.registry import PhaseBlocked, pipelines

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]

SECTION_SLUGS = ["balancing-supply-and-demand", "when-the-lights-go-out"]
SECTION_ITEMS = [f"section-{slug}" for slug in SECTION_SLUGS]


@pytest.fixture
def use_agent(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], Any]:
    """Make the phase tasks talk to ``agent`` (the model is the one thing outside the machine)."""

    def install(agent: Any) -> Any:
        monkeypatch.setattr("planners.tasks.get_agent_service", lambda backend=None: agent)
        return agent

    return install


@pytest.fixture
def agent(use_agent: Callable[[Any], Any]) -> ScriptedAgent:
    return use_agent(ScriptedAgent(DEFAULT_REPLIES))


@pytest.fixture
def plan() -> Plan:
    project = Project.objects.create(
        title="The Quiet Grid",
        description="A book on how the power grid stays balanced, and how it fails.",
    )
    return create_plan(project, pipeline="nonfiction", agent_backend="scripted", actor="olivia")


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
        "sections": OutlineSection.objects.count(),
        "outlines": NonfictionOutline.objects.count(),
    }


def test_pipeline_declares_three_phases_and_the_outline_fans_out() -> None:
    pipeline = pipelines.get("nonfiction")

    assert pipeline.phase_keys == ["brief", "outline", "sectionDraft"]
    assert pipeline.planner_slugs == ["brief", "outline", "section-draft"]
    assert pipeline.phase("outline").creates == "sectionDraft"
    assert pipeline.records_template == "console/records/nonfiction.html"


def test_new_plan_holds_the_brief_and_outline_items(plan: Plan) -> None:
    items = list(plan.backlog_items.order_by("position", "id"))

    assert [(i.backlog_id, i.phase, i.inputs, i.outputs) for i in items] == [
        ("brief", "brief", [], ["brief"]),
        ("outline", "outline", ["brief"], ["outline"]),
    ]
    assert plan.pipeline == "nonfiction"


def test_scripted_plan_runs_brief_outline_and_both_sections_to_complete(
    plan: Plan, agent: ScriptedAgent, run_to_end: Callable[[Plan], None]
) -> None:
    run_to_end(plan)

    items = list(plan.backlog_items.order_by("position", "id"))
    assert [item.backlog_id for item in items] == ["brief", "outline", *SECTION_ITEMS]
    assert all(item.status == BacklogStatus.COMPLETE for item in items), [
        (item.backlog_id, item.status, item.last_error) for item in items
    ]
    # Exactly one agent call per item: nothing was repaired or run twice.
    assert len(agent.calls) == len(items)
    assert sorted(phase for phase, _ in agent.calls) == [
        "brief",
        "outline",
        "sectionDraft",
        "sectionDraft",
    ]
    assert plan.status == "complete"

    transcripts = list(plan.transcripts.all())
    assert len(transcripts) == len(items)
    by_item = {t.backlog_item_id: t for t in transcripts}
    assert set(by_item) == {item.pk for item in items}
    for item in items:
        transcript = by_item[item.pk]
        assert transcript.metadata["backlogItemId"] in (item.backlog_id, item.pk)
        assert transcript.phase == item.phase
        assert transcript.validation_status == PhaseTranscript.Validation.PASSED
    assert PlannerExecution.objects.filter(plan=plan, outcome="success").count() == len(items)

    brief = NonfictionBrief.objects.get(plan=plan)
    assert brief.title == "The Quiet Grid"
    assert len(brief.key_questions) == 3
    outline = NonfictionOutline.objects.get(plan=plan)
    sections = list(outline.sections.order_by("order"))
    assert [s.section_slug for s in sections] == SECTION_SLUGS
    for section in sections:
        assert section.status == OutlineSection.Status.DRAFTED
        assert section.draft.startswith("# ")
        assert section.word_count > 300
        assert section.backlog_item is not None
        assert section.backlog_item.backlog_id == f"section-{section.section_slug}"
        transcript = by_item[section.backlog_item.pk]
        assert transcript.metadata["outlineSectionSlug"] == section.section_slug


def test_section_items_wait_for_the_outline_and_name_their_section(
    plan: Plan, agent: ScriptedAgent, run_to_end: Callable[[Plan], None]
) -> None:
    run_to_end(plan)

    for slug, backlog_id in zip(SECTION_SLUGS, SECTION_ITEMS, strict=True):
        item = plan.backlog_items.get(backlog_id=backlog_id)
        assert (item.phase, item.inputs, item.outputs) == (
            "sectionDraft",
            ["outline"],
            [f"section:{slug}"],
        )
        assert item.transitions.filter(reason="outline-sync").exists()
        section = OutlineSection.objects.get(backlog_item=item)
        assert SectionDraftRunner().checkpoint_target(item) == f"section:{section.pk}"


def test_rerunning_the_outline_materialise_adds_no_sections_or_items(
    plan: Plan, agent: ScriptedAgent, run_to_end: Callable[[Plan], None]
) -> None:
    run_to_end(plan)
    before = row_counts()
    bound = dict(OutlineSection.objects.values_list("section_slug", "backlog_item_id"))
    outline_item = plan.backlog_items.get(backlog_id="outline")
    runner = OutlineRunner()

    with transaction.atomic():
        runner.materialise(
            outline_item,
            OutlineReply.model_validate(OUTLINE_REPLY),
            runner.prepare(outline_item),
            actor="olivia",
        )

    assert row_counts() == before
    assert dict(OutlineSection.objects.values_list("section_slug", "backlog_item_id")) == bound
    # A re-run outline rewrites the outline fields, never the drafts already written.
    assert all(
        s.status == OutlineSection.Status.DRAFTED and s.draft for s in OutlineSection.objects.all()
    )


def test_rerun_outline_with_a_new_section_adds_only_that_section_and_item(
    plan: Plan, agent: ScriptedAgent, run_to_end: Callable[[Plan], None]
) -> None:
    run_to_end(plan)
    outline_item = plan.backlog_items.get(backlog_id="outline")
    third = {
        "sectionSlug": "the-grid-at-home",
        "title": "The Grid at Home",
        "summary": "What a household's meter says about the whole grid.",
        "keyPoints": ["Smart meters shift demand away from the evening peak"],
    }
    reply = OutlineReply.model_validate(
        {**OUTLINE_REPLY, "sections": [*OUTLINE_REPLY["sections"], third]}
    )
    runner = OutlineRunner()

    with transaction.atomic():
        materialised = runner.materialise(
            outline_item, reply, runner.prepare(outline_item), actor="olivia"
        )

    assert materialised.summary["sectionItems"] == [*SECTION_ITEMS, "section-the-grid-at-home"]
    new_item = plan.backlog_items.get(backlog_id="section-the-grid-at-home")
    assert new_item.status == BacklogStatus.PENDING
    assert OutlineSection.objects.get(section_slug="the-grid-at-home").backlog_item == new_item
    assert plan.backlog_items.count() == 5


def test_outline_before_the_brief_is_blocked(plan: Plan) -> None:
    outline_item = plan.backlog_items.get(backlog_id="outline")

    with pytest.raises(PhaseBlocked, match="has no brief yet"):
        OutlineRunner().prepare(outline_item)


def test_brief_reads_the_project(plan: Plan) -> None:
    phase_input = BriefRunner().prepare(plan.backlog_items.get(backlog_id="brief"))

    assert phase_input.params == BriefParams(
        projectTitle="The Quiet Grid",
        branch="main",
        description="A book on how the power grid stays balanced, and how it fails.",
    )


def test_section_item_without_a_section_is_blocked_before_any_call(plan: Plan) -> None:
    with transaction.atomic():
        (orphan,) = add_backlog_items(
            plan,
            [NewItem(backlog_id="section-orphan", phase="sectionDraft", inputs=["outline"])],
            reason="outline-sync",
            actor="olivia",
        )
    runner = SectionDraftRunner()

    assert runner.checkpoint_target(orphan) == "item:section-orphan"
    with pytest.raises(PhaseBlocked, match="'section-orphan' has no outline section"):
        runner.prepare(orphan)


def test_bad_section_drafts_block_their_items_and_mark_their_sections(
    plan: Plan, use_agent: Callable[[Any], Any], run_to_end: Callable[[Plan], None]
) -> None:
    agent = use_agent(ScriptedAgent({**DEFAULT_REPLIES, "sectionDraft": '{"prose": "none"}'}))

    run_to_end(plan)

    for backlog_id in SECTION_ITEMS:
        item = plan.backlog_items.get(backlog_id=backlog_id)
        assert item.status == BacklogStatus.BLOCKED
        assert OutlineSection.objects.get(backlog_item=item).status == "blocked"
    # Two calls per section: the draft and its one repair.
    assert [phase for phase, _ in agent.calls].count("sectionDraft") == 4
    assert plan.status != "complete"


def test_plan_records_show_the_brief_outline_and_drafts(
    plan: Plan, agent: ScriptedAgent, run_to_end: Callable[[Plan], None]
) -> None:
    run_to_end(plan)

    context = records_context(plan)
    html = render_to_string("console/records/nonfiction.html", context)

    assert context["brief"].title == "The Quiet Grid"
    assert [s.section_slug for s in context["sections"]] == SECTION_SLUGS
    assert "The power grid is a balancing act" in html
    assert html.count("<details") == 2
    assert "Balancing Supply and Demand" in html
    assert "When the Lights Go Out" in html
    assert "# Keeping the Grid in Balance" in html


def test_plan_page_includes_the_nonfiction_records(
    plan: Plan, agent: ScriptedAgent, run_to_end: Callable[[Plan], None], staff_client: Client
) -> None:
    run_to_end(plan)

    response = staff_client.get(reverse("console:plan", args=[plan.pk]))

    assert response.status_code == 200
    assert 'id="records-outline"' in response.text
    assert "When the Lights Go Out" in response.text
