"""The Scroll Refiner: turns a chapter blueprint into a scroll of sections and scenes."""

from __future__ import annotations

from planners.fiction.json_planner import FictionJsonPlanner, FictionParams
from planners.fiction.schemas import ScrollRefinerReply
from planners.framework.catalog import register_planner
from planners.framework.metadata import PlannerMetadata, PlannerStep


class ScrollRefinerParams(FictionParams):
    planName: str
    branch: str = "main"
    description: str = ""
    blueprintSynopsis: str
    blueprintStructure: str = ""
    scrollSummary: str = ""
    authorPersonaName: str = ""
    authorPersonaSummary: str = ""
    authorPersonaMemories: str = ""
    authorWorldNotes: str = ""


@register_planner
class ScrollRefinerPlanner(FictionJsonPlanner[ScrollRefinerParams]):
    metadata = PlannerMetadata(
        name="Scroll Refiner",
        slug="scroll-refiner",
        description="Refines a chapter blueprint into a scroll: sections, and scenes in each.",
        capabilities=("planning", "fiction", "scroll-refiner"),
        steps=(
            PlannerStep(
                id="scroll-refinement",
                display_name="Scroll refinement",
                purpose="Break the chapter into sections and scenes the scene weaver can draft.",
                template_id="planner.fiction.scrollRefiner",
                variables=(
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
        ),
        default_settings={"reply": "json"},
        telemetry_tags={"domain": "fiction", "phase": "scrollRefiner"},
    )
    params_model = ScrollRefinerParams
    phase = "scrollRefiner"
    reply_model = ScrollRefinerReply
    prompt_text = """\
You are refining a chapter of the fiction plan "{{planName}}" (branch: {{branch}}) into a scroll.

The plan:
{{description}}

The chapter blueprint:
{{blueprintSynopsis}}

Its beats:
{{blueprintStructure}}

The scroll so far (revise it if there is one):
{{scrollSummary}}

You write as {{authorPersonaName}}: {{authorPersonaSummary}}
The author remembers: {{authorPersonaMemories}}
World notes: {{authorWorldNotes}}

Split the chapter into sections, and each section into scenes. Give the scroll a kebab-case
scrollSlug, a title and a synopsis. Each section has a kebab-case sectionSlug, a title, a
summary, its transitions to the next section, and its scenes. Each scene has a kebab-case
sceneSlug unique in the scroll, a title, a goal, the conflict, the turn, the fallout and the
threads it carries forward. Name characters and places in the scene fields: the scene draft is
checked against the names you give here."""
