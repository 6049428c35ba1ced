"""The scene coverage gate checks names and slug words, not every word of the outline."""

from __future__ import annotations

import pytest

from planners.fiction.coverage import check_coverage, scene_entities
from planners.fiction.scene_weaver import SceneWeaverParams, SceneWeaverPlanner
from planners.fiction.scripted_replies import SCENE_PROSE
from planners.framework.catalog import catalog
from planners.framework.errors import ReplyValidationError

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
    prose = "The harbour was quiet that morning. " * 40
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
