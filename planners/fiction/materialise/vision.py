"""The vision's writer: the plan's vision fields, its cast, its lore needs, then its backlog."""

from __future__ import annotations

from typing import Any

from planners.fiction.materialise.backlog import sync_backlog
from planners.fiction.materialise.rows import SLUG_MAX, upsert_rows
from planners.fiction.schemas import LoreNeed, VisionReply
from planners.models import (
    BacklogItem,
    CastMember,
    ChapterScroll,
    FictionVision,
    LoreRequirement,
    Plan,
)
from planners.pipeline.registry import Materialised

#: Vision's word for lore nobody has worked out yet is a blocked requirement here.
LORE_STATUS = {
    "planned": LoreRequirement.Status.PLANNED,
    "ready": LoreRequirement.Status.READY,
    "missing": LoreRequirement.Status.BLOCKED,
}


def materialise_vision(item: BacklogItem, reply: VisionReply, *, actor: str) -> Materialised:
    plan = item.plan
    _write_vision(plan, reply)
    _upsert_cast(plan, reply)
    _upsert_lore(plan, reply.loreNeeds)
    sync = sync_backlog(item, reply.planningBacklog, actor=actor)
    return Materialised(
        summary={
            "cast": len(reply.coreCast) + len(reply.supportingCast),
            "lore": len(reply.loreNeeds),
            **sync,
        }
    )


def _write_vision(plan: Plan, reply: VisionReply) -> None:
    FictionVision.objects.update_or_create(
        plan=plan,
        defaults={
            "author_summary": reply.authorSummary,
            "book_goals": list(reply.bookGoals),
            "open_questions": list(reply.openQuestions),
            "world_seeds": list(reply.worldSeeds),
        },
    )


def _upsert_cast(plan: Plan, reply: VisionReply) -> None:
    cast = [
        (
            member.name[:200],
            {"plan": plan, "name": member.name[:200]},
            {
                "tier": tier,
                "role": member.role[:200],
                "track": member.track[:200],
                "importance": member.importance[:100],
                "summary": member.summary,
            },
        )
        for tier, members in (
            (CastMember.Tier.CORE, reply.coreCast),
            (CastMember.Tier.SUPPORTING, reply.supportingCast),
        )
        for member in members
    ]
    names = [key for key, _, _ in cast]
    stored_cast = {c.name: c for c in CastMember.objects.filter(plan=plan, name__in=names)}
    upsert_rows(CastMember, stored_cast, cast)


def _upsert_lore(plan: Plan, needs: list[LoreNeed]) -> None:
    slugs = [need.requirementSlug[:SLUG_MAX] for need in needs]
    stored_lore = {
        r.requirement_slug: r
        for r in LoreRequirement.objects.filter(plan=plan, requirement_slug__in=slugs)
    }
    named_scrolls = {slug for need in needs for slug in need.requiredFor}
    # In the order ``.first()`` would pick them (the model's ordering).
    scrolls = (
        list(ChapterScroll.objects.filter(plan=plan, scroll_slug__in=named_scrolls))
        if named_scrolls
        else []
    )
    lore: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for need, slug in zip(needs, slugs, strict=True):
        status = LORE_STATUS[need.status]
        existing = stored_lore.get(slug)
        if existing is not None and existing.status == LoreRequirement.Status.READY:
            # Someone resolved it (or an earlier vision did); a re-run does not re-open it.
            status = LoreRequirement.Status.READY
        scroll = next((s for s in scrolls if s.scroll_slug in need.requiredFor), None)
        lore.append(
            (
                slug,
                {"plan": plan, "requirement_slug": slug},
                {
                    "title": need.title[:300],
                    "description": need.description,
                    "status": status,
                    "required_for": list(need.requiredFor),
                    "scroll": scroll,
                },
            )
        )
    upsert_rows(LoreRequirement, stored_lore, lore)
