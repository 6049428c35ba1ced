"""The non-fiction pipeline: brief → outline → one section draft per outline section.

Importing this module registers the pipeline and the scripted replies that make one valid run
of it (``planners.nonfiction`` imports it, and ``PlannersConfig.ready`` imports the package).
"""

from __future__ import annotations

from cognition.agents.scripted import register_scripted_replies
from planners.nonfiction.materialise import OUTLINE_TOKEN
from planners.nonfiction.records import records_context
from planners.nonfiction.runners import BriefRunner, OutlineRunner, SectionDraftRunner
from planners.nonfiction.scripted_replies import DEFAULT_REPLIES
from planners.pipeline.registry import PhaseSpec, Pipeline, register_pipeline

#: The token the brief item outputs and the outline item waits for.
BRIEF_TOKEN = "brief"

NONFICTION = register_pipeline(
    Pipeline(
        slug="nonfiction",
        name="Non-fiction",
        description=(
            "Plans a non-fiction book: a brief (audience, thesis, key questions, sources), an "
            "outline of sections with their key points, then a Markdown draft of each section."
        ),
        phases=(
            PhaseSpec(
                key="brief",
                planner="brief",
                runner=BriefRunner(),
                label="Brief",
                starts_with_plan=True,
                start_backlog_id="brief",
                start_description="Write the book's brief: audience, thesis, questions, sources.",
                start_outputs=(BRIEF_TOKEN,),
            ),
            PhaseSpec(
                key="outline",
                planner="outline",
                runner=OutlineRunner(),
                label="Outline",
                starts_with_plan=True,
                start_backlog_id="outline",
                start_description="Outline the book; each section becomes a section-draft item.",
                start_inputs=(BRIEF_TOKEN,),
                start_outputs=(OUTLINE_TOKEN,),
                creates="sectionDraft",
            ),
            PhaseSpec(
                key="sectionDraft",
                planner="section-draft",
                runner=SectionDraftRunner(),
                label="Section draft",
            ),
        ),
        records_template="console/records/nonfiction.html",
        records_context=records_context,
    )
)

register_scripted_replies(DEFAULT_REPLIES)
