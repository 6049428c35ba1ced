"""The Outline Planner: the book's sections, each with the points its draft must make.

Every section becomes one section-draft backlog item (``section-<sectionSlug>``), so the
outline is also the plan's fan-out.
"""

from __future__ import annotations

from planners.framework.catalog import register_planner
from planners.framework.metadata import PlannerMetadata, PlannerStep
from planners.nonfiction.json_planner import NonfictionJsonPlanner, NonfictionParams
from planners.nonfiction.schemas import OutlineReply


class OutlineParams(NonfictionParams):
    planName: str
    branch: str = "main"
    description: str = ""
    briefSummary: str = ""


@register_planner
class OutlinePlanner(NonfictionJsonPlanner[OutlineParams]):
    metadata = PlannerMetadata(
        name="Outline Planner",
        slug="outline",
        description=(
            "Outlines a non-fiction book from its brief: sections, their summaries and the key "
            "points each section's draft must make."
        ),
        capabilities=("planning", "nonfiction"),
        steps=(
            PlannerStep(
                id="outline-plan",
                display_name="Outline",
                purpose="Break the brief into sections; each becomes a section-draft item.",
                template_id="planner.nonfiction.outline",
                variables=("planName", "branch", "description", "briefSummary"),
            ),
        ),
        default_settings={"reply": "json"},
        telemetry_tags={"domain": "nonfiction", "phase": "outline"},
    )
    params_model = OutlineParams
    phase = "outline"
    reply_model = OutlineReply
    prompt_text = """\
You are outlining the non-fiction plan "{{planName}}" (branch: {{branch}}).

Project description:
{{description}}

The book's brief:
{{briefSummary}}

Write the outline:
- title and summary: the book's title and how its sections build the thesis, in a paragraph.
- sections: in reading order. Each has a kebab-case sectionSlug (unique in the outline), a
  title, a summary of what it argues or explains, and keyPoints: the three to five points its
  draft must make, each a short sentence. Every key question of the brief should be answered
  by at least one section. Each section is drafted on its own, so keep them self-contained."""
