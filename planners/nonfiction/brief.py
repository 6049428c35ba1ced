"""The Brief Planner: what the book is for, who reads it and what it must answer."""

from __future__ import annotations

from planners.framework.catalog import register_planner
from planners.framework.metadata import PlannerMetadata, PlannerStep
from planners.nonfiction.json_planner import NonfictionJsonPlanner, NonfictionParams
from planners.nonfiction.schemas import BriefReply


class BriefParams(NonfictionParams):
    projectTitle: str
    branch: str = "main"
    description: str = ""


@register_planner
class BriefPlanner(NonfictionJsonPlanner[BriefParams]):
    metadata = PlannerMetadata(
        name="Brief Planner",
        slug="brief",
        description=(
            "Sets a non-fiction book's brief: title, audience, thesis, the questions it must "
            "answer and the sources it draws on."
        ),
        capabilities=("planning", "nonfiction"),
        steps=(
            PlannerStep(
                id="brief-plan",
                display_name="Brief",
                purpose="Draft the book's brief, the context of its outline and sections.",
                template_id="planner.nonfiction.brief",
                variables=("projectTitle", "branch", "description"),
            ),
        ),
        default_settings={"reply": "json"},
        telemetry_tags={"domain": "nonfiction", "phase": "brief"},
    )
    params_model = BriefParams
    phase = "brief"
    reply_model = BriefReply
    prompt_text = """\
You are planning the non-fiction book "{{projectTitle}}" (plan branch: {{branch}}).

Project description:
{{description}}

Write the book's brief:
- title: a working title; audience: who reads it and what they already know.
- thesis: the book's central argument, in one or two sentences a reader could disagree with.
- keyQuestions: the questions the book must answer, in the order a reader would ask them.
- sources: the books, papers, datasets and interviews the material comes from, each with
  what the book takes from it. Name real, checkable sources; do not invent citations."""
