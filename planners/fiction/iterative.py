"""The Iterative Planner: one planning pass (iteration N) over the story, cast and world."""

from __future__ import annotations

from planners.fiction.json_planner import FictionJsonPlanner, FictionParams
from planners.fiction.schemas import IterativeReply
from planners.framework.catalog import register_planner
from planners.framework.metadata import PlannerMetadata, PlannerStep


class IterativeParams(FictionParams):
    planName: str
    branch: str = "main"
    description: str = ""
    iterationIndex: int = 1
    existingPasses: str = ""


@register_planner
class IterativePlanner(FictionJsonPlanner[IterativeParams]):
    metadata = PlannerMetadata(
        name="Iterative Planner",
        slug="iterative",
        description=(
            "Runs one planning pass over the plan: story adjustments, character priorities, "
            "locations, systems and risks."
        ),
        capabilities=("planning", "fiction", "iterative"),
        steps=(
            PlannerStep(
                id="iterative-plan",
                display_name="Planning pass",
                purpose="Refine the plan in one numbered pass that builds on the earlier ones.",
                template_id="planner.fiction.iterative",
                variables=("planName", "branch", "description", "iterationIndex", "existingPasses"),
            ),
        ),
        default_settings={"reply": "json"},
        telemetry_tags={"domain": "fiction", "phase": "iterative"},
    )
    params_model = IterativeParams
    phase = "iterative"
    reply_model = IterativeReply
    prompt_text = """\
You are refining the fiction plan "{{planName}}" (branch: {{branch}}).

The plan so far:
{{description}}

This is planning pass {{iterationIndex}}. Earlier passes:
{{existingPasses}}

Make this pass build on the earlier ones rather than repeat them. Give:
- storyAdjustments: concrete changes to the story plan;
- characterPriorities: which characters to develop next, and how;
- locationNotes: places the next chapters need, and what happens there;
- systemsConsiderations: the rules of the world (magic, politics, economies) the story leans on;
- risks: what could break the plan, each with the reason."""
