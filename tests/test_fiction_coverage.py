"""The Scene Weaver's checks on a draft: Markdown prose (not JSON) under a "# " title heading,
of an accepted length, that passes the coverage gate (names and slug words, not every word of
the outline)."""

from __future__ import annotations

import json

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from planners.fiction.coverage import check_coverage, scene_entities
from planners.fiction.scene_weaver import SceneWeaverParams, SceneWeaverPlanner
from planners.fiction.scripted_replies import SCENE_PROSE
from planners.framework.catalog import catalog
from planners.framework.errors import ReplyValidationError
from planners.framework.replies import count_words

OUTLINE = [
    "Goal: Mara Quell must recover the Tide Ledger before the Lantern Guild seals the "
    "Drowned Archive.",
    "Conflict: Tobin Ash fears the Guild; Archivist Sel demands a truth.",
    "Turn: The Ledger shows a district no Guild map admits to.",
    "Fallout: Mara keeps the Ledger and a secret she cannot unknow.",
]
CAST = ["Mara Quell", "Tobin Ash", "Archivist Sel", "Harbourmaster Vey"]


def _entities() -> list[str]:
    entities = scene_entities(
        scene_slug="mara-enters-the-archive",
        scene_title="Mara Enters the Drowned Archive",
        scene_fields=OUTLINE,
        cast_names=CAST,
    )
    return [e.label for e in entities]


def test_entities_are_names_and_slug_words_not_generic_words() -> None:
    labels = _entities()
    assert labels[:3] == ["mara", "enters", "archive"]
    assert {"Mara Quell", "Tobin Ash", "Archivist Sel"} <= set(labels)
    assert {"Tide Ledger", "Lantern Guild", "Drowned Archive"} <= set(labels)
    # Cast not in this scene, sentence-initial labels and ordinary words are not entities.
    assert "Harbourmaster Vey" not in labels
    for generic in (
        "Goal",
        "Conflict",
        "Turn",
        "Fallout",
        "recover",
        "truth",
        "the",
        "Mara Enters",
    ):
        assert generic not in labels


def test_people_count_as_mentioned_by_first_or_last_name() -> None:
    entities = scene_entities(
        scene_slug="ash-keeps-watch",
        scene_fields=["Tobin Ash keeps watch."],
        cast_names=["Tobin Ash"],
    )
    report = check_coverage("Tobin kept watch all night.", entities, required_ratio=1.0)
    assert "Tobin Ash" in report.found


def test_prose_missing_names_fails_and_names_them() -> None:
    entities = scene_entities(
        scene_slug="mara-enters-the-archive",
        scene_title="Mara Enters the Drowned Archive",
        scene_fields=OUTLINE,
        cast_names=CAST,
    )
    report = check_coverage(
        "Mara walked into the archive and entered the dark.", entities, required_ratio=0.6
    )
    assert not report.passed
    assert "Tide Ledger" in report.missing
    assert "Tobin Ash" in report.missing
    assert "missing" in report.describe()
    assert "Lantern Guild" in report.describe()


def _bound_planner(ratio: float) -> SceneWeaverPlanner:
    params = SceneWeaverParams(
        planName="The Lantern Cartographers (main)",
        sceneTitle="Mara Enters the Drowned Archive",
        sceneSlug="mara-enters-the-archive",
        sceneDescription="\n".join(OUTLINE),
        castNames=CAST,
    )
    planner = SceneWeaverPlanner()
    planner.entities = scene_entities(
        scene_slug=params.sceneSlug,
        scene_title=params.sceneTitle,
        scene_fields=[params.sceneDescription],
        cast_names=params.castNames,
    )
    planner.required_ratio = ratio
    return planner


def test_default_scripted_scene_passes_the_gate() -> None:
    planner = _bound_planner(0.9)
    draft = planner.parse_reply(planner.metadata.steps[0], SCENE_PROSE)
    assert draft.missing == []
    assert draft.wordCount > 500


def test_fenced_markdown_prose_is_unwrapped() -> None:
    planner = _bound_planner(0.6)
    draft = planner.parse_reply(planner.metadata.steps[0], f"```markdown\n{SCENE_PROSE}\n```")
    assert draft.prose.startswith("# Mara Enters the Drowned Archive")


def test_off_topic_prose_is_refused_naming_the_missing_entities() -> None:
    planner = _bound_planner(0.6)
    prose = "# The Harbour\n\n" + "The harbour was quiet that morning. " * 40
    with pytest.raises(ReplyValidationError) as caught:
        planner.parse_reply(planner.metadata.steps[0], prose)
    (error,) = caught.value.errors
    assert error.startswith("scene coverage 0/")
    assert "Tide Ledger" in error
    assert "Mara Quell" in error


def test_a_few_lines_are_not_a_scene() -> None:
    planner = catalog.get("scene-weaver")
    with pytest.raises(ReplyValidationError) as caught:
        planner.parse_reply(planner.metadata.steps[0], "Mara entered the archive.")
    assert "words long" in caught.value.errors[0]


@pytest.mark.parametrize(
    "reply",
    [
        json.dumps({"title": "Mara Enters the Drowned Archive", "prose": SCENE_PROSE}),
        "```json\n" + json.dumps({"prose": SCENE_PROSE}, indent=2) + "\n```",
        json.dumps([{"heading": "# Mara Enters the Drowned Archive", "text": SCENE_PROSE}]),
    ],
    ids=["object", "fenced-object", "array"],
)
def test_json_reply_is_not_accepted_as_prose(reply: str) -> None:
    planner = _bound_planner(0.6)
    with pytest.raises(ReplyValidationError) as caught:
        planner.parse_reply(planner.metadata.steps[0], reply)
    # The JSON problem alone: a heading or length check on a JSON document would only confuse.
    (error,) = caught.value.errors
    assert error.startswith("the reply is a JSON document, not Markdown prose")


def test_prose_that_merely_mentions_json_is_accepted() -> None:
    planner = _bound_planner(0.6)
    prose = SCENE_PROSE + '\n"{}" was all the Guild had written in the margin.\n'
    assert planner.parse_reply(planner.metadata.steps[0], prose).prose == prose.strip()


_BODY = SCENE_PROSE.split("\n", 1)[1]


@pytest.mark.parametrize(
    "reply",
    [
        _BODY,
        "## Mara Enters the Drowned Archive\n" + _BODY,
        "#Mara Enters the Drowned Archive\n" + _BODY,
        "Here is the scene you asked for.\n\n" + SCENE_PROSE,
    ],
    ids=["no-heading", "second-level-heading", "no-space-after-hash", "preamble-first"],
)
def test_prose_without_a_title_heading_is_refused(reply: str) -> None:
    planner = _bound_planner(0.6)
    with pytest.raises(ReplyValidationError) as caught:
        planner.parse_reply(planner.metadata.steps[0], reply)
    assert caught.value.errors == [
        'the reply does not start with a "# " heading; put "# " and the scene title on the '
        "first line"
    ]


def test_heading_after_blank_lines_is_accepted() -> None:
    planner = _bound_planner(0.6)
    draft = planner.parse_reply(planner.metadata.steps[0], "\n\n  \n" + SCENE_PROSE)
    assert draft.prose.startswith("# Mara Enters the Drowned Archive")


@pytest.mark.parametrize(
    ("minimum", "maximum", "expected"),
    [
        (1000, 3000, "under the minimum of 1000"),
        (100, 200, "over the maximum of 200"),
    ],
)
def test_prose_outside_word_range_is_rejected(
    settings: SettingsWrapper, minimum: int, maximum: int, expected: str
) -> None:
    settings.SCENE_MIN_WORDS = minimum
    settings.SCENE_MAX_WORDS = maximum
    planner = _bound_planner(0.6)
    words = count_words(SCENE_PROSE)
    with pytest.raises(ReplyValidationError) as caught:
        planner.parse_reply(planner.metadata.steps[0], SCENE_PROSE)
    assert caught.value.errors == [
        f"the scene is {words} words long, {expected}; write about 900 to 1300 words of prose"
    ]


def test_word_range_bounds_are_inclusive(settings: SettingsWrapper) -> None:
    words = count_words(SCENE_PROSE)
    settings.SCENE_MIN_WORDS = settings.SCENE_MAX_WORDS = words
    planner = _bound_planner(0.6)
    assert planner.parse_reply(planner.metadata.steps[0], SCENE_PROSE).wordCount == words


def test_default_word_range_refuses_a_runaway_draft() -> None:
    planner = _bound_planner(0.6)
    runaway = SCENE_PROSE + "\nThe water rose and rose again.\n" * 600
    with pytest.raises(ReplyValidationError) as caught:
        planner.parse_reply(planner.metadata.steps[0], runaway)
    (error,) = caught.value.errors
    assert "over the maximum of 3000" in error


def test_every_problem_of_a_draft_is_listed_at_once() -> None:
    planner = _bound_planner(0.6)
    with pytest.raises(ReplyValidationError) as caught:
        planner.parse_reply(planner.metadata.steps[0], "The harbour was quiet that morning.")
    length, heading, coverage = caught.value.errors
    assert "under the minimum of 100" in length
    assert "heading" in heading
    assert coverage.startswith("scene coverage 0/")
