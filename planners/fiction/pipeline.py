"""The fiction pipeline: five phases, from the plan's vision to each scene's prose.

The plan starts with its vision item; the vision adds the planning passes it lists (iterative
passes, chapter blueprints, scrolls), and each scroll refinement adds one scene item per scene.
"""

from __future__ import annotations

from typing import Any

from cognition.agents.scripted import register_scripted_replies
from planners.fiction.health import lore_findings
from planners.fiction.phases import PLANNER_SLUGS, VISION_BACKLOG_ID, VISION_OUTPUT, Phase
from planners.fiction.records import records_context
from planners.fiction.runners import (
    ChapterArchitectRunner,
    IterativeRunner,
    SceneWeaverRunner,
    ScrollRefinerRunner,
    VisionRunner,
)
from planners.fiction.scripted_replies import DEFAULT_REPLIES
from planners.pipeline.registry import PhaseSpec, Pipeline, register_pipeline

SLUG = "fiction"


def _spec(phase: Phase, runner: Any, **fields: Any) -> PhaseSpec:
    return PhaseSpec(
        key=phase.value, planner=PLANNER_SLUGS[phase], runner=runner, label=phase.label, **fields
    )


FICTION = register_pipeline(
    Pipeline(
        slug=SLUG,
        name="Fiction",
        description=(
            "A novel from its vision to each scene's prose: vision, iterative passes, chapter "
            "blueprints, scrolls of sections and scenes, then one prose draft per scene."
        ),
        phases=(
            _spec(
                Phase.VISION,
                VisionRunner(),
                starts_with_plan=True,
                start_backlog_id=VISION_BACKLOG_ID,
                start_description=(
                    "Vision: the plan's intent, cast, lore and the passes still needed."
                ),
                start_outputs=(VISION_OUTPUT,),
                creates=Phase.ITERATIVE.value,
            ),
            _spec(Phase.ITERATIVE, IterativeRunner()),
            _spec(Phase.CHAPTER_ARCHITECT, ChapterArchitectRunner()),
            _spec(Phase.SCROLL_REFINER, ScrollRefinerRunner(), creates=Phase.SCENE_WEAVER.value),
            _spec(Phase.SCENE_WEAVER, SceneWeaverRunner()),
        ),
        records_template="console/records/fiction.html",
        records_context=records_context,
        health_findings=lore_findings,
    )
)

register_scripted_replies(DEFAULT_REPLIES)
