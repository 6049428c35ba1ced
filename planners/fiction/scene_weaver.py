"""The Scene Weaver: drafts one scene's prose in Markdown, checked by the coverage gate.

The reply is prose, not JSON. A draft is refused when it is a JSON document (a fenced one too),
when it does not open with the ``# `` title heading the prompt asks for, when its length falls
outside ``SCENE_MIN_WORDS``..``SCENE_MAX_WORDS``, or when it fails the coverage gate
(``planners.fiction.coverage``: it must mention enough of the scene's named entities and slug
words). A refused draft gets the usual one repair attempt, told every problem in one line each.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from pydantic import BaseModel, Field

from planners.fiction.coverage import CoverageReport, Entity, check_coverage, scene_entities
from planners.fiction.json_planner import SYSTEM_MESSAGE, FictionParams
from planners.framework.base import FinishedRun, PlannerBase
from planners.framework.catalog import register_planner
from planners.framework.context import PlannerContext
from planners.framework.errors import PlannerParamsError, ReplyValidationError
from planners.framework.metadata import PlannerMetadata, PlannerStep
from planners.framework.replies import (
    count_words,
    is_json_document,
    starts_with_heading,
    step_variables,
    strip_outer_fence,
)

NOT_PROSE_PROBLEM = (
    "the reply is a JSON document, not Markdown prose; reply with the scene's prose only, "
    'starting with a "# " heading'
)
NO_HEADING_PROBLEM = (
    'the reply does not start with a "# " heading; put "# " and the scene title on the first line'
)


class SceneWeaverParams(FictionParams):
    planName: str
    branch: str = "main"
    sceneTitle: str
    sceneSlug: str
    sceneDescription: str
    sceneMetadata: str = ""
    sectionSummary: str = ""
    scrollSynopsis: str = ""
    blueprintStructure: str = ""
    authorPersonaName: str = ""
    authorPersonaSummary: str = ""
    authorPersonaMemories: str = ""
    authorWorldNotes: str = ""
    #: Not a template variable: the plan's cast, so the gate knows which names are people.
    castNames: list[str] = Field(default_factory=list)


class SceneDraft(BaseModel):
    """The validated reply: the prose and how it fared in the coverage gate."""

    prose: str
    wordCount: int
    coverageRatio: float
    entities: list[str]
    missing: list[str]


def length_problem(words: int) -> str | None:
    """The draft's length outside ``SCENE_MIN_WORDS``..``SCENE_MAX_WORDS``, or None."""
    minimum, maximum = settings.SCENE_MIN_WORDS, settings.SCENE_MAX_WORDS
    if words < minimum:
        bound = f"under the minimum of {minimum}"
    elif words > maximum:
        bound = f"over the maximum of {maximum}"
    else:
        return None
    return f"the scene is {words} words long, {bound}; write about 900 to 1300 words of prose"


def prose_problems(prose: str, words: int, report: CoverageReport) -> list[str]:
    """Every problem of a prose draft at once, so the one repair attempt can fix them all."""
    problems: list[str] = []
    if (length := length_problem(words)) is not None:
        problems.append(length)
    if not starts_with_heading(prose):
        problems.append(NO_HEADING_PROBLEM)
    if not report.passed:
        problems.append(
            report.describe()
            + ". Mention these names from the scene outline in the prose: "
            + ", ".join(report.missing)
        )
    return problems


@register_planner
class SceneWeaverPlanner(PlannerBase[SceneWeaverParams]):
    metadata = PlannerMetadata(
        name="Scene Weaver",
        slug="scene-weaver",
        description="Drafts a scene's prose in Markdown from its outline, checked for coverage.",
        capabilities=("planning", "fiction", "scene-weaver"),
        steps=(
            PlannerStep(
                id="scene-draft",
                display_name="Scene draft",
                purpose="Write the scene as Markdown prose that stages its outline.",
                template_id="planner.fiction.sceneWeaver",
                variables=(
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
        ),
        default_settings={"reply": "markdown", "words": "900-1300"},
        telemetry_tags={"domain": "fiction", "phase": "sceneWeaver"},
    )
    params_model = SceneWeaverParams
    phase = "sceneWeaver"
    system_message = SYSTEM_MESSAGE

    def __init__(self) -> None:
        # Set only on the per-run copy made by ``plan()``; the catalog's instance has none.
        self.entities: list[Entity] = []
        self.required_ratio: float = float(settings.SCENE_COVERAGE_RATIO)

    def run(
        self, context: PlannerContext, params: SceneWeaverParams | Mapping[str, Any]
    ) -> FinishedRun:
        """Run on a copy bound to this scene's entities, so concurrent runs never share them
        (``plan()`` runs through this too)."""
        try:
            valid = self.validate_params(params)
        except PlannerParamsError:
            return super().run(context, params)  # records the parameter error as usual
        bound = copy.copy(self)
        bound.entities = scene_entities(
            scene_slug=valid.sceneSlug,
            scene_title=valid.sceneTitle,
            scene_fields=[valid.sceneDescription],
            cast_names=valid.castNames,
        )
        bound.required_ratio = float(settings.SCENE_COVERAGE_RATIO)
        return PlannerBase.run(bound, context, valid)

    def default_prompt(self, step: PlannerStep) -> str:
        return """\
You are drafting one scene of the fiction plan "{{planName}}" (branch: {{branch}}).

Scene: {{sceneTitle}} ({{sceneSlug}})
{{sceneDescription}}

Scene details:
{{sceneMetadata}}

The section it belongs to:
{{sectionSummary}}

The chapter scroll:
{{scrollSynopsis}}

The chapter's beats:
{{blueprintStructure}}

You write as {{authorPersonaName}}: {{authorPersonaSummary}}
The author remembers: {{authorPersonaMemories}}
World notes: {{authorWorldNotes}}

Write the scene as Markdown prose of about 900 to 1300 words, starting with a "# " heading that
is the scene title. Stage the goal, the conflict, the turn and the fallout on the page, and name
the characters and places of the outline as you go. Reply with the prose only: no notes, no JSON.
"""

    def template_variables(
        self, step: PlannerStep, params: SceneWeaverParams, context: PlannerContext
    ) -> dict[str, str]:
        return step_variables(step, params)

    def parse_reply(self, step: PlannerStep, text: str) -> SceneDraft:
        prose = strip_outer_fence(text)
        if not prose:
            raise ReplyValidationError(["the reply is empty: expected the scene's Markdown prose"])
        if is_json_document(prose):
            # Its heading, length and names say nothing about prose; one problem is the message.
            raise ReplyValidationError([NOT_PROSE_PROBLEM])
        words = count_words(prose)
        report = check_coverage(prose, self.entities, required_ratio=self.required_ratio)
        problems = prose_problems(prose, words, report)
        if problems:
            raise ReplyValidationError(problems)
        return SceneDraft(
            prose=prose,
            wordCount=words,
            coverageRatio=round(report.ratio, 3),
            entities=list(report.entities),
            missing=list(report.missing),
        )
