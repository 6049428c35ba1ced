"""Writing a validated non-fiction reply into the plan's rows, and the summaries prompts read.

Every writer is idempotent: the brief and outline are one row per plan, and sections are keyed
on ``(plan, section_slug)``, so a redelivered or resumed phase updates what it wrote instead of
adding to it. The runners call these inside the phase's one transaction, under the plan's lock,
so no other phase of the plan writes between a writer's read and its inserts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.utils import timezone

from planners.models import BacklogItem
from planners.models.nonfiction import NonfictionBrief, NonfictionOutline, OutlineSection
from planners.nonfiction.schemas import BriefReply, OutlineReply
from planners.nonfiction.section_draft import SectionDraft, bulleted
from planners.pipeline.backlog import NewItem, add_backlog_items

if TYPE_CHECKING:
    from planners.models import Plan

#: The token the outline item outputs and every section-draft item waits for.
OUTLINE_TOKEN = "outline"
#: Leaves room for the ``section-`` prefix in a backlog id (200 characters at most).
SLUG_MAX = 190


def section_backlog_id(section_slug: str) -> str:
    return f"section-{section_slug}"


# --- what later prompts read ------------------------------------------------------------------


def brief_summary(brief: NonfictionBrief | None) -> str:
    """The brief as prompt text; empty when there is none (rendered as "(none yet)")."""
    if brief is None:
        return ""
    parts = [f"Title: {brief.title}", f"Audience: {brief.audience}", f"Thesis: {brief.thesis}"]
    if brief.key_questions:
        parts.append("Key questions:\n" + bulleted(brief.key_questions))
    return "\n".join(parts)


def outline_summary(outline: NonfictionOutline, sections: Sequence[OutlineSection]) -> str:
    """The outline as prompt text: its summary, then every section in order."""
    lines = [f"{outline.title}: {outline.summary}"]
    lines += [
        f"{section.order}. {section.title or section.section_slug}: {section.summary}"
        for section in sections
    ]
    return "\n".join(lines)


# --- brief --------------------------------------------------------------------------------------


def materialise_brief(plan: Plan, reply: BriefReply) -> NonfictionBrief:
    brief, _ = NonfictionBrief.objects.update_or_create(
        plan=plan,
        defaults={
            "title": reply.title[:300],
            "audience": reply.audience,
            "thesis": reply.thesis,
            "key_questions": list(reply.keyQuestions),
            "sources": [source.model_dump(mode="json") for source in reply.sources],
        },
    )
    return brief


# --- outline ------------------------------------------------------------------------------------


def materialise_outline(
    plan: Plan, reply: OutlineReply, *, actor: str
) -> tuple[NonfictionOutline, list[OutlineSection], list[BacklogItem]]:
    """Write the outline and its sections, and give every section its section-draft item.

    A re-run updates the outline fields of sections it names again (keeping any draft and
    status) and adds what is new; it deletes nothing, since a section may already be drafted.
    """
    outline, _ = NonfictionOutline.objects.update_or_create(
        plan=plan, defaults={"title": reply.title[:300], "summary": reply.summary}
    )
    stored = {section.section_slug: section for section in OutlineSection.objects.filter(plan=plan)}
    sections: list[OutlineSection] = []
    for order, entry in enumerate(reply.sections, start=1):
        slug = entry.sectionSlug[:SLUG_MAX]
        outline_fields = {
            "outline": outline,
            "title": entry.title[:300],
            "summary": entry.summary,
            "key_points": list(entry.keyPoints),
            "order": order,
        }
        section = stored.get(slug)
        if section is None:
            section = OutlineSection.objects.create(plan=plan, section_slug=slug, **outline_fields)
        else:
            for name, value in outline_fields.items():
                setattr(section, name, value)
            section.save(update_fields=[*outline_fields, "updated_at"])
        sections.append(section)

    items = add_backlog_items(
        plan,
        [
            NewItem(
                backlog_id=section_backlog_id(section.section_slug),
                phase="sectionDraft",
                description=f"Draft the section {section.title or section.section_slug!r}.",
                inputs=[OUTLINE_TOKEN],
                outputs=[f"section:{section.section_slug}"],
            )
            for section in sections
        ],
        reason="outline-sync",
        actor=actor,
    )
    for section, item in zip(sections, items, strict=True):
        if section.backlog_item_id != item.pk:
            section.backlog_item = item
            section.save(update_fields=["backlog_item", "updated_at"])
    return outline, sections, items


# --- section draft ------------------------------------------------------------------------------


def materialise_section_draft(section: OutlineSection, draft: SectionDraft) -> None:
    section.draft = draft.prose
    section.word_count = draft.wordCount
    section.status = OutlineSection.Status.DRAFTED
    section.save(update_fields=["draft", "word_count", "status", "updated_at"])


def mark_section(item: BacklogItem, status: str) -> None:
    """Record a section-draft phase that produced no draft; an earlier draft stays readable."""
    marked = OutlineSection.Status.BLOCKED if status == "blocked" else OutlineSection.Status.FAILED
    OutlineSection.objects.filter(backlog_item=item).update(
        status=marked, updated_at=timezone.now()
    )
