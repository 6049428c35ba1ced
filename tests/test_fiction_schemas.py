"""The fiction reply shapes: one model per phase drives both the prompt and the validation."""

from __future__ import annotations

import json

import pytest

from cognition.templating import find_variables, render_strict
from planners.fiction.schemas import (
    ChapterArchitectReply,
    IterativeReply,
    ScrollRefinerReply,
    VisionReply,
)
from planners.fiction.scripted_replies import DEFAULT_REPLIES, SCROLL_REFINER_REPLY
from planners.framework.catalog import catalog
from planners.framework.errors import ReplyValidationError
from planners.framework.replies import ReplyShapeError, parse_reply_json, render_shape

DESIGN_STEPS = {
    "vision": (
        "Vision Planner",
        "vision-plan",
        "planner.fiction.vision",
        ("projectTitle", "branch", "description", "logline"),
    ),
    "iterative": (
        "Iterative Planner",
        "iterative-plan",
        "planner.fiction.iterative",
        ("planName", "branch", "description", "iterationIndex", "existingPasses"),
    ),
    "chapter-architect": (
        "Chapter Architect",
        "chapter-blueprint",
        "planner.fiction.chapterArchitect",
        ("planName", "branch", "description", "passesSummary", "existingBlueprintSummary"),
    ),
    "scroll-refiner": (
        "Scroll Refiner",
        "scroll-refinement",
        "planner.fiction.scrollRefiner",
        (
            "planName",
            "branch",
            "description",
            "blueprintSynopsis",
            "blueprintStructure",
            "scrollSummary",
            "authorPersonaName",
            "authorPersonaSummary",
            "authorPersonaMemories",
            "authorWorldNotes",
        ),
    ),
    "scene-weaver": (
        "Scene Weaver",
        "scene-draft",
        "planner.fiction.sceneWeaver",
        (
            "planName",
            "branch",
            "sceneTitle",
            "sceneSlug",
            "sceneDescription",
            "sceneMetadata",
            "sectionSummary",
            "scrollSynopsis",
            "blueprintStructure",
            "authorPersonaName",
            "authorPersonaSummary",
            "authorPersonaMemories",
            "authorWorldNotes",
        ),
    ),
}


def _scroll_with_second_scene(scene: dict[str, object]) -> str:
    data = json.loads(json.dumps(SCROLL_REFINER_REPLY))
    data["sections"][0]["scenes"].append(scene)
    return json.dumps(data)


def test_fenced_json_reply_is_accepted() -> None:
    text = "Here is the scroll:\n```json\n" + json.dumps(SCROLL_REFINER_REPLY) + "\n```\nDone."
    reply = parse_reply_json(text, ScrollRefinerReply)
    assert reply.scrollSlug == "the-drowned-archive"
    assert reply.sections[0].scenes[0].sceneSlug == "mara-enters-the-archive"


def test_extra_keys_are_tolerated() -> None:
    data = json.loads(json.dumps(SCROLL_REFINER_REPLY))
    data["mood"] = "brooding"
    data["sections"][0]["scenes"][0]["soundtrack"] = "rain"
    reply = parse_reply_json(json.dumps(data), ScrollRefinerReply)
    assert reply.sections[0].scenes[0].title == "Mara Enters the Drowned Archive"


def test_missing_scene_slug_is_named_by_its_path() -> None:
    text = _scroll_with_second_scene(
        {
            "title": "The Tide Turns",
            "goal": "Get out",
            "conflict": "Water",
            "turn": "The door",
            "fallout": "Wet",
            "carryForward": [],
        }
    )
    with pytest.raises(ReplyShapeError) as caught:
        parse_reply_json(text, ScrollRefinerReply)
    assert caught.value.errors == ["sections[0].scenes[1].sceneSlug: field required"]


def test_wrongly_typed_key_is_named_by_its_path() -> None:
    data = json.loads(json.dumps(SCROLL_REFINER_REPLY))
    data["sections"][0]["transitions"] = "the tide turns"
    with pytest.raises(ReplyShapeError) as caught:
        parse_reply_json(json.dumps(data), ScrollRefinerReply)
    assert caught.value.errors[0].startswith("sections[0].transitions: ")


def test_lore_status_outside_the_allowed_values_is_refused() -> None:
    data = json.loads(DEFAULT_REPLIES["vision"])
    data["loreNeeds"][0]["status"] = "sort-of"
    with pytest.raises(ReplyShapeError) as caught:
        parse_reply_json(json.dumps(data), VisionReply)
    assert caught.value.errors[0].startswith("loreNeeds[0].status: ")
    assert "planned" in caught.value.errors[0]


def test_reply_that_is_not_json_says_so() -> None:
    with pytest.raises(ReplyShapeError) as caught:
        parse_reply_json("I think the chapter should open at dawn.", ChapterArchitectReply)
    assert caught.value.errors[0].startswith("reply: not valid JSON")


def test_duplicate_scene_slugs_in_one_scroll_are_refused() -> None:
    duplicate = dict(SCROLL_REFINER_REPLY["sections"][0]["scenes"][0])
    with pytest.raises(ReplyShapeError) as caught:
        parse_reply_json(_scroll_with_second_scene(duplicate), ScrollRefinerReply)
    assert caught.value.errors == [
        "sections[].scenes: duplicate sceneSlug 'mara-enters-the-archive'"
    ]


def test_slugs_written_as_titles_are_normalised() -> None:
    data = json.loads(json.dumps(SCROLL_REFINER_REPLY))
    data["scrollSlug"] = "The Drowned Archive"
    assert parse_reply_json(json.dumps(data), ScrollRefinerReply).scrollSlug == (
        "the-drowned-archive"
    )


def test_prompt_shape_is_rendered_from_the_reply_model() -> None:
    shape = render_shape(ScrollRefinerReply)
    skeleton = json.loads(shape.split("\nEvery key")[0])
    scene = skeleton["sections"][0]["scenes"][0]
    assert set(scene) == {
        "sceneSlug",
        "title",
        "goal",
        "conflict",
        "turn",
        "fallout",
        "carryForward",
    }
    vision = render_shape(VisionReply)
    assert '"status": "planned|ready|missing"' in vision
    assert "except: loreNeeds[].requiredFor, planningBacklog[].status, openQuestions" in vision
    assert set(json.loads(render_shape(IterativeReply).split("\nEvery key")[0])) == {
        "storyAdjustments",
        "characterPriorities",
        "locationNotes",
        "systemsConsiderations",
        "risks",
    }


@pytest.mark.parametrize("slug", list(DESIGN_STEPS))
def test_planner_steps_match_the_design_table(slug: str) -> None:
    name, step_id, template_id, variables = DESIGN_STEPS[slug]
    planner = catalog.get(slug)
    assert planner.metadata.name == name
    assert {"planning", "fiction"} <= set(planner.metadata.capabilities)
    (step,) = planner.metadata.steps
    assert (step.id, step.template_id, step.variables) == (step_id, template_id, variables)
    prompt = planner.default_prompt(step)
    # The built-in text uses every declared variable and renders strictly with them.
    assert sorted(find_variables(prompt)) == sorted(variables)
    rendered = render_strict(prompt, dict.fromkeys(variables, "x"), allowed=set(variables))
    assert "{{" not in rendered


def test_json_prompts_embed_the_shape_they_validate() -> None:
    planner = catalog.get("scroll-refiner")
    prompt = planner.default_prompt(planner.metadata.steps[0])
    assert render_shape(ScrollRefinerReply) in prompt


@pytest.mark.parametrize(
    ("slug", "phase"),
    [
        ("vision", "vision"),
        ("iterative", "iterative"),
        ("chapter-architect", "chapterArchitect"),
        ("scroll-refiner", "scrollRefiner"),
    ],
)
def test_default_scripted_json_replies_validate(slug: str, phase: str) -> None:
    planner = catalog.get(slug)
    assert planner.parse_reply(planner.metadata.steps[0], DEFAULT_REPLIES[phase]) is not None


def test_planner_parse_reply_raises_the_framework_error() -> None:
    planner = catalog.get("chapter-architect")
    with pytest.raises(ReplyValidationError) as caught:
        planner.parse_reply(planner.metadata.steps[0], '{"title": "Chapter One"}')
    assert "synopsis: field required" in caught.value.errors
    assert "structure: field required" in caught.value.errors


def test_default_replies_cover_every_phase_and_critique_approves() -> None:
    assert set(DEFAULT_REPLIES) == {
        "vision",
        "iterative",
        "chapterArchitect",
        "scrollRefiner",
        "sceneWeaver",
        "critique",
    }
    assert DEFAULT_REPLIES["critique"].splitlines()[0] == "APPROVED"
    vision = parse_reply_json(DEFAULT_REPLIES["vision"], VisionReply)
    assert all(need.status == "ready" for need in vision.loreNeeds)
    scroll = parse_reply_json(DEFAULT_REPLIES["scrollRefiner"], ScrollRefinerReply)
    assert sum(len(section.scenes) for section in scroll.sections) == 1
