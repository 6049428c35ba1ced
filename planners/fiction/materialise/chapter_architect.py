"""The chapter architect's writer: the item's blueprint and its beats."""

from __future__ import annotations

from planners.fiction.materialise.rows import SLUG_MAX, links, upsert_rows
from planners.fiction.schemas import ChapterArchitectReply
from planners.fiction.targets import bind_targets, targets
from planners.models import BacklogItem, ChapterBeat, ChapterBlueprint
from planners.pipeline.registry import Materialised


def materialise_chapter(item: BacklogItem, reply: ChapterArchitectReply) -> Materialised:
    blueprint = targets(item).blueprint
    if blueprint is None:
        blueprint, _ = ChapterBlueprint.objects.get_or_create(
            plan=item.plan, slug=item.backlog_id[:SLUG_MAX]
        )
        bind_targets(item, blueprint=blueprint)
    blueprint.title = reply.title[:300]
    blueprint.synopsis = reply.synopsis
    blueprint.save(update_fields=["title", "synopsis", "updated_at"])
    slugs = [beat.slug[:SLUG_MAX] for beat in reply.structure]
    beats = [
        (
            slug,
            {"blueprint": blueprint, "slug": slug},
            {
                "order": order,
                "summary": beat.summary,
                "goal": beat.goal,
                "obstacle": beat.obstacle,
                "turn": beat.turn,
                "fallout": beat.fallout,
                "carry_forward": list(beat.carryForward),
            },
        )
        for order, (slug, beat) in enumerate(zip(slugs, reply.structure, strict=True), start=1)
    ]
    stored = {b.slug: b for b in ChapterBeat.objects.filter(blueprint=blueprint, slug__in=slugs)}
    upsert_rows(ChapterBeat, stored, beats)
    # The blueprint is what the latest reply says: beats it dropped go.
    blueprint.beats.exclude(slug__in=slugs).delete()
    return Materialised(summary={"beats": slugs}, links=links(blueprint=blueprint))
