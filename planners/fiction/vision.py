"""The Vision Planner: the plan's intent, cast, lore needs and the backlog of passes."""

from __future__ import annotations

from planners.fiction.json_planner import FictionJsonPlanner, FictionParams
from planners.fiction.schemas import VisionReply
from planners.framework.catalog import register_planner
from planners.framework.metadata import PlannerMetadata, PlannerStep


class VisionParams(FictionParams):
    projectTitle: str
    branch: str = "main"
    description: str = ""
    logline: str = ""


@register_planner
class VisionPlanner(FictionJsonPlanner[VisionParams]):
    metadata = PlannerMetadata(
        name="Vision Planner",
        slug="vision",
        description=(
            "Sets the plan's vision: author intent, book goals, cast, lore needs and the "
            "backlog of planning passes still needed."
        ),
        capabilities=("planning", "fiction", "vision"),
        steps=(
            PlannerStep(
                id="vision-plan",
                display_name="Vision",
                purpose="Draft the plan's vision and the backlog of passes that follow it.",
                template_id="planner.fiction.vision",
                variables=("projectTitle", "branch", "description", "logline"),
            ),
        ),
        default_settings={"reply": "json"},
        telemetry_tags={"domain": "fiction", "phase": "vision"},
    )
    params_model = VisionParams
    phase = "vision"
    reply_model = VisionReply
    prompt_text = """\
You are planning the novel "{{projectTitle}}" (plan branch: {{branch}}).

Project description:
{{description}}

Logline:
{{logline}}

Write the plan's vision:
- authorSummary: the author's intent in one paragraph; bookGoals: what the book must achieve.
- coreCast and supportingCast: every character the first chapters need.
- loreNeeds: the world knowledge the book depends on. Mark each "ready" when it is settled,
  "planned" when it still has to be worked out, "missing" when nobody knows yet. List in
  requiredFor the backlog ids (or scroll and scene slugs) it gates; leave requiredFor empty
  when it gates the whole plan. Anything not "ready" holds back the scrolls and scenes it gates.
- planningBacklog: the planning passes still needed after this vision, in order. Each entry has
  a kebab-case id, a description, the tokens it needs (inputs) and the tokens it produces
  (outputs); an entry runs after the entries whose outputs it lists as inputs. This vision
  outputs the token "vision". Name each pass by its kind: an iterative planning pass
  (e.g. "outline-core-conflicts"), a chapter blueprint ("chapter-one-blueprint") or a chapter
  scroll of sections and scenes ("chapter-one-scroll"). Do not list individual scenes: the
  scroll pass creates them."""
