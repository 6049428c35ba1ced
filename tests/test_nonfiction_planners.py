"""The non-fiction planners on their own: catalog entries, prompts, reply checks and repair.

Each planner runs its whole lifecycle (``PlannerBase.plan``) against a scripted agent, so these
tests need the database for the execution rows but not the pipeline or the family's records.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from cognition.agents.scripted import ScriptedAgent
from cognition.models import PromptTemplate
from cognition.seeding import seed_planner_templates
from planners.framework.base import PlannerBase
from planners.framework.catalog import catalog
from planners.framework.context import PlannerContext
from planners.framework.errors import ReplyValidationError
from planners.framework.replies import render_shape
from planners.framework.result import PlannerOutcome, PlannerResult
from planners.models import PlannerExecution
from planners.nonfiction.schemas import BriefReply, OutlineReply
from planners.nonfiction.scripted_replies import (
    BRIEF_REPLY,
    DEFAULT_REPLIES,
    OUTLINE_REPLY,
    SECTION_PROSE,
)
from planners.nonfiction.section_draft import (
    MAX_SECTION_WORDS,
    SectionDraft,
    check_section_draft,
)

DESIGN_STEPS = {
    "brief": (
        "Brief Planner",
        "brief",
        "planner.nonfiction.brief",
        ("projectTitle", "branch", "description"),
    ),
    "outline": (
        "Outline Planner",
        "outline",
        "planner.nonfiction.outline",
        ("planName", "branch", "description", "briefSummary"),
    ),
    "section-draft": (
        "Section Draft",
        "sectionDraft",
        "planner.nonfiction.sectionDraft",
        (
            "planName",
            "branch",
            "sectionTitle",
            "sectionSlug",
            "sectionSummary",
            "keyPoints",
            "outlineSummary",
            "briefSummary",
        ),
    ),
}

FIRST_SECTION: dict[str, Any] = OUTLINE_REPLY["sections"][0]

BRIEF_PARAMS = {
    "projectTitle": "The Quiet Grid",
    "branch": "main",
    "description": "A book on how the power grid stays balanced, and how it fails.",
}
OUTLINE_PARAMS = {
    "planName": "The Quiet Grid (main)",
    "branch": "main",
    "description": BRIEF_PARAMS["description"],
    "briefSummary": "Title: The Quiet Grid\nThesis: the grid is a balancing act.",
}
SECTION_PARAMS = {
    "planName": "The Quiet Grid (main)",
    "branch": "main",
    "sectionTitle": FIRST_SECTION["title"],
    "sectionSlug": FIRST_SECTION["sectionSlug"],
    "sectionSummary": FIRST_SECTION["summary"],
    "keyPoints": FIRST_SECTION["keyPoints"],
    "outlineSummary": "The Quiet Grid: balance, then failure and recovery.",
    "briefSummary": "Title: The Quiet Grid",
}
PARAMS = {"brief": BRIEF_PARAMS, "outline": OUTLINE_PARAMS, "section-draft": SECTION_PARAMS}


def run(slug: str, agent: ScriptedAgent) -> PlannerResult:
    planner: PlannerBase[Any] = catalog.get(slug)
    context = PlannerContext.create(agent, correlation_id=f"corr-nonfiction-{slug}")
    return planner.plan(context, PARAMS[slug])


def words(count: int) -> str:
    return " ".join(["grid"] * count)


# --- catalog and prompts --------------------------------------------------------------------------


@pytest.mark.parametrize("slug", list(DESIGN_STEPS))
def test_planner_is_in_the_catalog_with_its_phase_template_and_variables(slug: str) -> None:
    name, phase, template_id, variables = DESIGN_STEPS[slug]
    planner = catalog.get(slug)

    assert planner.metadata.name == name
    assert planner.phase == phase
    assert {"planning", "nonfiction"} <= set(planner.metadata.capabilities)
    (step,) = planner.metadata.steps
    assert step.template_id == template_id
    assert step.variables == variables
    assert planner in catalog.by_capability("nonfiction")


@pytest.mark.parametrize(
    ("slug", "reply_model"), [("brief", BriefReply), ("outline", OutlineReply)]
)
def test_prompt_shows_the_shape_rendered_from_the_reply_model(
    slug: str, reply_model: type[BriefReply | OutlineReply]
) -> None:
    planner = catalog.get(slug)

    prompt = planner.default_prompt(planner.metadata.steps[0])

    assert render_shape(reply_model) in prompt
    for key in reply_model.model_fields:
        assert f'"{key}"' in prompt


def test_outline_shape_names_every_section_key() -> None:
    shape = render_shape(OutlineReply)

    for key in ("sectionSlug", "title", "summary", "keyPoints"):
        assert f'"{key}"' in shape
    assert shape.endswith("Every key is required.")


@pytest.mark.parametrize("phase", ["brief", "outline", "sectionDraft"])
def test_scripted_reply_of_each_phase_passes_its_planner(phase: str) -> None:
    planner = next(p for p in catalog.by_capability("nonfiction") if p.phase == phase)
    step = planner.metadata.steps[0]
    key_points = [point for s in OUTLINE_REPLY["sections"] for point in s["keyPoints"]]

    if phase == "sectionDraft":
        reply = check_section_draft(DEFAULT_REPLIES[phase], key_points)
        assert reply.keyPointsMissing == []
    else:
        reply = planner.parse_reply(step, DEFAULT_REPLIES[phase])
        assert reply.title == "The Quiet Grid"


def test_scripted_outline_has_exactly_two_sections_whose_keys_the_draft_makes() -> None:
    outline = OutlineReply.model_validate(OUTLINE_REPLY)

    assert [s.sectionSlug for s in outline.sections] == [
        "balancing-supply-and-demand",
        "when-the-lights-go-out",
    ]
    for section in outline.sections:
        assert check_section_draft(SECTION_PROSE, section.keyPoints).keyPointsMissing == []


def test_outline_with_a_duplicate_section_slug_is_refused() -> None:
    twice = {**OUTLINE_REPLY, "sections": [FIRST_SECTION, FIRST_SECTION]}

    with pytest.raises(ReplyValidationError, match="duplicate sectionSlug"):
        catalog.get("outline").parse_reply(
            catalog.get("outline").metadata.steps[0], json.dumps(twice)
        )


# --- the brief and the outline: JSON replies ----------------------------------------------------


@pytest.mark.django_db
def test_brief_planner_accepts_the_scripted_brief() -> None:
    agent = ScriptedAgent(DEFAULT_REPLIES)

    result = run("brief", agent)

    assert result.outcome == PlannerOutcome.SUCCESS
    assert result.reply == BriefReply.model_validate(BRIEF_REPLY)
    assert [phase for phase, _ in agent.calls] == ["brief"]
    prompt = agent.calls[0][1][-1].content
    assert 'the non-fiction book "The Quiet Grid" (plan branch: main)' in prompt
    assert BRIEF_PARAMS["description"] in prompt
    execution = PlannerExecution.objects.get()
    assert (execution.planner_slug, execution.outcome) == ("brief", "success")
    assert execution.template_id == "planner.nonfiction.brief"


@pytest.mark.django_db
def test_outline_planner_accepts_a_fenced_outline() -> None:
    agent = ScriptedAgent(DEFAULT_REPLIES)

    result = run("outline", agent)

    assert result.outcome == PlannerOutcome.SUCCESS
    assert result.reply == OutlineReply.model_validate(OUTLINE_REPLY)
    assert OUTLINE_PARAMS["briefSummary"] in agent.calls[0][1][-1].content


@pytest.mark.django_db
def test_brief_missing_a_key_is_repaired_once_with_the_key_named() -> None:
    incomplete = {key: value for key, value in BRIEF_REPLY.items() if key != "thesis"}
    agent = ScriptedAgent({"brief": [json.dumps(incomplete), DEFAULT_REPLIES["brief"]]})

    result = run("brief", agent)

    assert result.outcome == PlannerOutcome.SUCCESS
    assert len(agent.calls) == 2
    assert "thesis: field required" in agent.calls[1][1][-1].content


@pytest.mark.django_db
def test_outline_missing_a_key_twice_is_blocked_after_one_repair() -> None:
    section = {key: value for key, value in FIRST_SECTION.items() if key != "keyPoints"}
    bad = json.dumps({**OUTLINE_REPLY, "sections": [section]})
    agent = ScriptedAgent({"outline": bad})

    result = run("outline", agent)

    assert result.outcome == PlannerOutcome.BLOCKED
    assert len(agent.calls) == 2
    assert "sections[0].keyPoints: field required" in agent.calls[1][1][-1].content
    assert "sections[0].keyPoints" in result.error
    execution = PlannerExecution.objects.get()
    assert (execution.outcome, execution.validation_status) == ("blocked", "failed")


# --- the section draft: Markdown prose ----------------------------------------------------------


@pytest.mark.django_db
def test_section_draft_accepts_prose_that_makes_its_key_points() -> None:
    agent = ScriptedAgent(DEFAULT_REPLIES)

    result = run("section-draft", agent)

    assert result.outcome == PlannerOutcome.SUCCESS
    draft = result.reply
    assert isinstance(draft, SectionDraft)
    assert draft.prose.startswith("# Keeping the Grid in Balance")
    assert draft.keyPointsCovered == FIRST_SECTION["keyPoints"]
    assert draft.wordCount > 300
    prompt = agent.calls[0][1][-1].content
    assert "- Frequency shows whether the grid is in balance" in prompt
    assert "Section: Balancing Supply and Demand (balancing-supply-and-demand)" in prompt


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reply", "complaint"),
    [
        (DEFAULT_REPLIES["outline"], "the reply is JSON"),
        (json.dumps({"prose": SECTION_PROSE}), "the reply is JSON"),
        (SECTION_PROSE.removeprefix("# Keeping the Grid in Balance\n"), '"# " heading'),
        (
            "# Keeping the Grid in Balance\n\nFrequency and reserves balance generation.",
            "words long",
        ),
        ("# Keeping the Grid in Balance\n\n" + words(MAX_SECTION_WORDS + 1), "words long"),
        ("# Bread\n\n" + "Bakers knead the dough before dawn. " * 40, "key points"),
    ],
    ids=["outline-json", "json-object", "no-heading", "too-short", "too-long", "off-topic"],
)
def test_section_draft_refuses_bad_prose_after_one_repair(reply: str, complaint: str) -> None:
    agent = ScriptedAgent({"sectionDraft": reply})

    result = run("section-draft", agent)

    assert result.outcome == PlannerOutcome.BLOCKED
    assert len(agent.calls) == 2
    assert complaint in agent.calls[1][1][-1].content
    assert complaint in result.error


@pytest.mark.django_db
def test_section_draft_repaired_on_the_second_reply_succeeds() -> None:
    agent = ScriptedAgent({"sectionDraft": ["{}", SECTION_PROSE]})

    result = run("section-draft", agent)

    assert result.outcome == PlannerOutcome.SUCCESS
    assert [a.validation_status for a in result.attempts] == ["failed", "passed"]


def test_off_topic_draft_names_the_missing_key_points() -> None:
    prose = "# Bread\n\n" + "Bakers knead the dough before dawn. " * 40

    with pytest.raises(ReplyValidationError) as caught:
        check_section_draft(prose, FIRST_SECTION["keyPoints"])

    (error,) = caught.value.errors
    assert "makes 0 of the section's 3 key points" in error
    for point in FIRST_SECTION["keyPoints"]:
        assert point in error


def test_draft_making_two_of_three_key_points_passes() -> None:
    points = [*FIRST_SECTION["keyPoints"][:2], "Whales sing underwater songs at dusk"]

    draft = check_section_draft(SECTION_PROSE, points)

    assert draft.keyPointsMissing == ["Whales sing underwater songs at dusk"]


def test_fenced_prose_is_unwrapped() -> None:
    draft = check_section_draft(f"```markdown\n{SECTION_PROSE}```", FIRST_SECTION["keyPoints"])

    assert draft.prose == SECTION_PROSE.strip()


# --- seeding --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_seeding_creates_the_nonfiction_templates_and_runs_use_them() -> None:
    result = seed_planner_templates()

    template_ids = [DESIGN_STEPS[slug][2] for slug in DESIGN_STEPS]
    assert set(template_ids) <= set(result.created)
    for slug, (_, _, template_id, _) in DESIGN_STEPS.items():
        template = PromptTemplate.objects.get(name=template_id)
        planner = catalog.get(slug)
        assert template.active_version is not None
        assert template.active_version.text == planner.default_prompt(planner.metadata.steps[0])

    brief_run = run("brief", ScriptedAgent(DEFAULT_REPLIES))

    assert brief_run.outcome == PlannerOutcome.SUCCESS
    assert brief_run.used_fallback is False
    assert brief_run.steps[0].template_version == 1
