"""The Chapter Architect: a chapter blueprint (title, synopsis and its beats)."""

from __future__ import annotations

from planners.fiction.json_planner import FictionJsonPlanner, FictionParams
from planners.fiction.schemas import ChapterArchitectReply
from planners.framework.catalog import register_planner
from planners.framework.metadata import PlannerMetadata, PlannerStep


class ChapterArchitectParams(FictionParams):
    planName: str
    branch: str = "main"
    description: str = ""
    passesSummary: str = ""
    existingBlueprintSummary: str = ""


@register_planner
class ChapterArchitectPlanner(FictionJsonPlanner[ChapterArchitectParams]):
    metadata = PlannerMetadata(
        name="Chapter Architect",
        slug="chapter-architect",
        description="Designs a chapter blueprint: title, synopsis and the chapter's beats.",
        capabilities=("planning", "fiction", "chapter-architect"),
        steps=(
            PlannerStep(
                id="chapter-blueprint",
                display_name="Chapter blueprint",
                purpose="Lay out the chapter as beats with goal, obstacle, turn and fallout.",
                template_id="planner.fiction.chapterArchitect",
                variables=(
                    "planName",
                    "branch",
                    "description",
                    "passesSummary",
                    "existingBlueprintSummary",
                ),
            ),
        ),
        default_settings={"reply": "json"},
        telemetry_tags={"domain": "fiction", "phase": "chapterArchitect"},
    )
    params_model = ChapterArchitectParams
    phase = "chapterArchitect"
    reply_model = ChapterArchitectReply
    prompt_text = """\
You are the chapter architect for the fiction plan "{{planName}}" (branch: {{branch}}).

The plan:
{{description}}

What the planning passes decided:
{{passesSummary}}

The blueprint as it stands (revise it if there is one):
{{existingBlueprintSummary}}

Design the chapter: a title, a synopsis, and its structure as an ordered list of beats. Each beat
has a kebab-case slug unique in the chapter, a summary, the viewpoint character's goal, the
obstacle, the turn that changes the situation, the fallout, and the threads it carries forward."""
