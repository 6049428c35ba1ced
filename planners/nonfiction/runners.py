"""How the engine runs each non-fiction phase: the planner's parameters from the plan's rows,
and the validated reply back into them (``planners.pipeline.registry.PhaseRunner``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from planners.models.nonfiction import NonfictionBrief, NonfictionOutline, OutlineSection
from planners.nonfiction.brief import BriefParams
from planners.nonfiction.materialise import (
    brief_summary,
    mark_section,
    materialise_brief,
    materialise_outline,
    materialise_section_draft,
    outline_summary,
)
from planners.nonfiction.outline import OutlineParams
from planners.nonfiction.schemas import BriefReply, OutlineReply
from planners.nonfiction.section_draft import SectionDraft, SectionDraftParams
from planners.pipeline.registry import Materialised, PhaseBlocked, PhaseInput, PhaseRunner

if TYPE_CHECKING:
    from planners.models import BacklogItem

ReplyT = TypeVar("ReplyT", bound=BaseModel)


def _as_reply(reply: Any, model: type[ReplyT]) -> ReplyT:
    """The validated reply as ``model``: the planner hands over the model itself, but a reply
    read back from an execution row's JSON is a dict of the same shape."""
    return reply if isinstance(reply, model) else model.model_validate(reply)


def _section_links(section: OutlineSection) -> dict[str, Any]:
    # Not ``sectionId``/``sectionSlug``: in transcript metadata those name fiction's sections.
    return {"outlineSectionId": section.pk, "outlineSectionSlug": section.section_slug}


class BriefRunner(PhaseRunner):
    """The brief reads only the project: it is the first phase of every plan."""

    def prepare(self, item: BacklogItem) -> PhaseInput:
        plan = item.plan
        return PhaseInput(
            params=BriefParams(
                projectTitle=plan.project.title,
                branch=plan.branch,
                description=plan.project.description,
            )
        )

    def materialise(
        self, item: BacklogItem, reply: Any, phase_input: PhaseInput, *, actor: str
    ) -> Materialised:
        brief = materialise_brief(item.plan, _as_reply(reply, BriefReply))
        return Materialised(
            summary={
                "title": brief.title,
                "keyQuestions": len(brief.key_questions),
                "sources": len(brief.sources),
            },
            links={"briefId": brief.pk},
        )


class OutlineRunner(PhaseRunner):
    """The outline reads the brief and fans out: one section-draft item per section."""

    def prepare(self, item: BacklogItem) -> PhaseInput:
        plan = item.plan
        brief = NonfictionBrief.objects.filter(plan=plan).first()
        if brief is None:
            raise PhaseBlocked(
                f"plan {plan.name!r} has no brief yet: the brief phase must complete before "
                "the outline can be written."
            )
        return PhaseInput(
            params=OutlineParams(
                planName=plan.name,
                branch=plan.branch,
                description=plan.project.description,
                briefSummary=brief_summary(brief),
            ),
            links={"briefId": brief.pk},
        )

    def materialise(
        self, item: BacklogItem, reply: Any, phase_input: PhaseInput, *, actor: str
    ) -> Materialised:
        outline, sections, items = materialise_outline(
            item.plan, _as_reply(reply, OutlineReply), actor=actor
        )
        return Materialised(
            summary={
                "sections": [section.section_slug for section in sections],
                "sectionItems": [section_item.backlog_id for section_item in items],
            },
            links={"outlineId": outline.pk, "outlineSectionIds": [s.pk for s in sections]},
        )


class SectionDraftRunner(PhaseRunner):
    """A section draft works on the outline section bound to its item by the outline phase."""

    def checkpoint_target(self, item: BacklogItem) -> str:
        section_id = (
            OutlineSection.objects.filter(backlog_item=item).values_list("pk", flat=True).first()
        )
        if section_id is None:
            return super().checkpoint_target(item)
        return f"section:{section_id}"

    def prepare(self, item: BacklogItem) -> PhaseInput:
        section = OutlineSection.objects.select_related("outline").filter(backlog_item=item).first()
        if section is None:
            raise PhaseBlocked(
                f"backlog item {item.backlog_id!r} has no outline section: re-run the outline "
                "so that it binds a section to this item."
            )
        plan = item.plan
        outline: NonfictionOutline = section.outline
        brief = NonfictionBrief.objects.filter(plan=plan).first()
        params = SectionDraftParams(
            planName=plan.name,
            branch=plan.branch,
            sectionTitle=section.title or section.section_slug,
            sectionSlug=section.section_slug,
            sectionSummary=section.summary,
            keyPoints=list(section.key_points),
            outlineSummary=outline_summary(outline, list(outline.sections.all())),
            briefSummary=brief_summary(brief),
        )
        return PhaseInput(params=params, links=_section_links(section), state=section)

    def materialise(
        self, item: BacklogItem, reply: Any, phase_input: PhaseInput, *, actor: str
    ) -> Materialised:
        section: OutlineSection = phase_input.state
        draft = _as_reply(reply, SectionDraft)
        materialise_section_draft(section, draft)
        return Materialised(
            summary={
                "wordCount": draft.wordCount,
                "keyPointsCovered": len(draft.keyPointsCovered),
                "keyPointsMissing": list(draft.keyPointsMissing),
            },
            links=_section_links(section),
        )

    def stopped(self, item: BacklogItem, status: str) -> None:
        mark_section(item, status)
