"""Writing a validated phase reply into the plan's rows.

Every writer is idempotent: rows are keyed on their unique keys (``upsert_rows``), so a phase
whose task is redelivered, or an item resumed after it already wrote, updates what it wrote
instead of adding duplicates. The runner calls these inside the phase's one transaction, under
the plan's row lock (``planners.pipeline.scheduling.lock_plan``), which is what lets a writer
read the rows it keys on and then insert the missing ones in bulk without savepoints: no other
phase of the plan writes between the read and the insert. (A unique-key clash with some other writer
fails the phase's savepoint, and the phase, rather than adding a duplicate.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from django.db import models
from django.db.models import Q
from django.utils import timezone

from planners.fiction.phases import VISION_BACKLOG_ID, Phase, infer_phase
from planners.fiction.scene_weaver import SceneDraft
from planners.fiction.schemas import (
    BacklogEntry,
    ChapterArchitectReply,
    IterativeReply,
    ScrollRefinerReply,
    VisionReply,
)
from planners.fiction.targets import bind_targets, new_targets, targets
from planners.models import (
    BacklogItem,
    BacklogStatus,
    CastMember,
    ChapterBeat,
    ChapterBlueprint,
    ChapterScene,
    ChapterScroll,
    ChapterSection,
    FictionItemTarget,
    FictionVision,
    LoreRequirement,
    PlanPass,
)
from planners.pipeline.registry import Materialised
from planners.pipeline.transitions import record_new_backlog_item, record_new_backlog_items
from planners.pipeline.unproduced_inputs import plan_items_changed, refresh_deferred

logger = logging.getLogger(__name__)

#: Vision's word for lore nobody has worked out yet is a blocked requirement here.
LORE_STATUS = {
    "planned": LoreRequirement.Status.PLANNED,
    "ready": LoreRequirement.Status.READY,
    "missing": LoreRequirement.Status.BLOCKED,
}
#: Backlog phases the vision reply manages; scene items belong to the scroll refiner.
VISION_MANAGED_PHASES = (Phase.ITERATIVE, Phase.CHAPTER_ARCHITECT, Phase.SCROLL_REFINER)
SLUG_MAX = 200

RowT = TypeVar("RowT", bound=models.Model)


def _auto_now_fields(model: type[models.Model]) -> list[str]:
    return [f.name for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]


def upsert_rows(
    model: type[RowT],
    existing: Mapping[str, RowT],
    rows: Sequence[tuple[str, Mapping[str, Any], Mapping[str, Any]]],
) -> list[RowT]:
    """``update_or_create`` for many rows in a few statements: ``rows`` are ``(key, lookup,
    defaults)``, ``existing`` the rows already stored by key (read by the caller in one query).
    New rows go in one INSERT; an existing row is updated only in the fields whose value
    changed. Returns the row for each entry of ``rows``, in order."""
    new: dict[str, RowT] = {}
    changed: dict[str, tuple[RowT, set[str]]] = {}
    result: list[RowT] = []
    for key, lookup, defaults in rows:
        if key in new:
            row = new[key]
            for name, value in defaults.items():
                setattr(row, name, value)
        elif key in existing:
            row = existing[key]
            fields = changed.setdefault(key, (row, set()))[1]
            for name, value in defaults.items():
                if getattr(row, name) != value:
                    setattr(row, name, value)
                    fields.add(name)
        else:
            row = new[key] = model(**lookup, **defaults)
        result.append(row)
    if new:
        model._default_manager.bulk_create(list(new.values()))
    auto_now = _auto_now_fields(model)
    for row, fields in changed.values():
        if fields:
            row.save(update_fields=[*sorted(fields), *auto_now])
    return result


def upsert_row(
    model: type[RowT],
    lookup: Mapping[str, Any],
    defaults: Mapping[str, Any],
    *,
    parent_is_new: bool = False,
) -> tuple[RowT, bool]:
    """One ``upsert_rows`` row: a read by the unique key, then one INSERT or UPDATE (if any
    value changed). ``parent_is_new``: the row it belongs to was inserted in this transaction
    (and the reply's keys are unique, which its schema checks), so there is nothing to read.
    Returns the row and whether it was inserted."""
    found = None if parent_is_new else next(iter(model._default_manager.filter(**lookup)[:1]), None)
    existing = {"row": found} if found is not None else {}
    return upsert_rows(model, existing, [("row", lookup, defaults)])[0], found is None


def links(
    *,
    blueprint: ChapterBlueprint | None = None,
    scroll: ChapterScroll | None = None,
    section: ChapterSection | None = None,
    scene: ChapterScene | None = None,
) -> dict[str, Any]:
    """Transcript metadata naming the rows a phase works on: ``<kind>Id`` and ``<kind>Slug``."""
    found: dict[str, Any] = {}
    for prefix, row, slug_field in (
        ("blueprint", blueprint, "slug"),
        ("scroll", scroll, "scroll_slug"),
        ("section", section, "section_slug"),
        ("scene", scene, "scene_slug"),
    ):
        if row is not None:
            found[f"{prefix}Id"] = row.pk
            found[f"{prefix}Slug"] = getattr(row, slug_field)
    return found


# --- vision ---------------------------------------------------------------------------------------


def materialise_vision(item: BacklogItem, reply: VisionReply, *, actor: str) -> Materialised:
    plan = item.plan
    FictionVision.objects.update_or_create(
        plan=plan,
        defaults={
            "author_summary": reply.authorSummary,
            "book_goals": list(reply.bookGoals),
            "open_questions": list(reply.openQuestions),
            "world_seeds": list(reply.worldSeeds),
        },
    )

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

    slugs = [need.requirementSlug[:SLUG_MAX] for need in reply.loreNeeds]
    stored_lore = {
        r.requirement_slug: r
        for r in LoreRequirement.objects.filter(plan=plan, requirement_slug__in=slugs)
    }
    named_scrolls = {slug for need in reply.loreNeeds for slug in need.requiredFor}
    # In the order ``.first()`` would pick them (the model's ordering).
    scrolls = (
        list(ChapterScroll.objects.filter(plan=plan, scroll_slug__in=named_scrolls))
        if named_scrolls
        else []
    )
    lore = []
    for need, slug in zip(reply.loreNeeds, slugs, strict=True):
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

    sync = sync_backlog(item, reply.planningBacklog, actor=actor)
    return Materialised(
        summary={
            "cast": len(reply.coreCast) + len(reply.supportingCast),
            "lore": len(reply.loreNeeds),
            **sync,
        }
    )


@refresh_deferred()  # the plan's unproduced inputs are worked out once, at the end
def sync_backlog(
    vision_item: BacklogItem, entries: Iterable[BacklogEntry], *, actor: str
) -> dict[str, object]:
    """Add and update the plan's backlog from the vision's ``planningBacklog``.

    New entries become ``pending`` items (with a ``vision-sync`` transition); pending items
    that never ran are updated; items that started, finished, failed or were blocked are left
    exactly as they are. Pending items the new vision no longer lists, and that never ran, are
    removed. The entry's optional ``status`` is informational: every new item starts pending.
    """
    plan = vision_item.plan
    entries = list(entries)
    existing = {b.backlog_id: b for b in plan.backlog_items.all()}
    created: list[str] = []
    updated: list[str] = []
    kept: list[str] = []
    listed: set[str] = set()
    new_items: list[BacklogItem] = []

    for position, entry in enumerate(entries, start=1):
        backlog_id = entry.id[:SLUG_MAX]
        listed.add(backlog_id)
        if backlog_id == VISION_BACKLOG_ID or backlog_id == vision_item.backlog_id:
            kept.append(backlog_id)
            continue
        phase = infer_phase(backlog_id, entry.outputs)
        fields = {
            "description": entry.description,
            "phase": phase,
            "position": position,
            "inputs": list(entry.inputs),
            "outputs": list(entry.outputs),
        }
        item = existing.get(backlog_id)
        if item is None:
            # Inserted below, in one statement, once bound to its blueprint.
            item = BacklogItem(plan=plan, backlog_id=backlog_id, **fields)
            created.append(backlog_id)
            new_items.append(item)
        elif _never_ran(item):
            changed = [name for name, value in fields.items() if getattr(item, name) != value]
            for name in changed:
                setattr(item, name, fields[name])
            if changed:
                item.save(update_fields=[*changed, "updated_at"])
                updated.append(backlog_id)
            new_items.append(item)
        else:
            kept.append(backlog_id)

    _bind_blueprints(plan.pk, new_items)
    inserted = BacklogItem.objects.bulk_create([i for i in new_items if i.pk is None])
    if inserted:
        plan_items_changed(plan.pk)  # bulk_create sends no post_save
        bound = []
        for new_item in inserted:
            target = _unsaved(new_item)
            if target.blueprint_id is not None:
                target.item_id = new_item.pk
                bound.append(target)
        FictionItemTarget.objects.bulk_create(bound)
    record_new_backlog_items(
        inserted,
        reason="vision-sync",
        actor=actor,
        detail=f"added by vision ({vision_item.backlog_id})",
    )

    removed = []
    for backlog_id, item in existing.items():
        if backlog_id not in listed and item.phase in VISION_MANAGED_PHASES and _never_ran(item):
            removed.append(backlog_id)
            item.delete()
            plan_items_changed(plan.pk)
    if removed:
        logger.info("vision sync on plan %s removed never-run items %s", plan.pk, removed)
    logger.info(
        "vision sync on plan %s: created %s, updated %s, kept %s",
        plan.pk,
        created,
        updated,
        kept,
    )
    return {"created": created, "updated": updated, "kept": kept, "removed": removed}


def _never_ran(item: BacklogItem) -> bool:
    return (
        item.status == BacklogStatus.PENDING
        and item.attempts == 0
        and item.in_progress_at is None
        and item.completed_at is None
    )


def _bind_blueprints(plan_id: int, items: list[BacklogItem]) -> None:
    """Give each chapter architect item its blueprint row (the phase key names it), and each
    scroll item the blueprint of the chapter item it depends on. ``items`` may be unsaved
    (new items are inserted bound); a stored item whose blueprint changes is saved here."""

    def blueprint_id(item: BacklogItem) -> int | None:
        return targets(item).blueprint_id if item.pk is not None else _unsaved(item).blueprint_id

    chapters = [i for i in items if i.phase == Phase.CHAPTER_ARCHITECT and not blueprint_id(i)]
    if chapters:
        slugs = [i.backlog_id[:SLUG_MAX] for i in chapters]
        blueprints = {
            b.slug: b for b in ChapterBlueprint.objects.filter(plan_id=plan_id, slug__in=slugs)
        }
        missing = [ChapterBlueprint(plan_id=plan_id, slug=s) for s in dict.fromkeys(slugs)]
        missing = [b for b in missing if b.slug not in blueprints]
        for blueprint in ChapterBlueprint.objects.bulk_create(missing):
            blueprints[blueprint.slug] = blueprint
        for item, slug in zip(chapters, slugs, strict=True):
            _bind(item, blueprints[slug])
    producers = [i for i in items if i.phase == Phase.CHAPTER_ARCHITECT and blueprint_id(i)]
    for item in items:
        if item.phase != Phase.SCROLL_REFINER or blueprint_id(item) is not None:
            continue
        for producer in _ancestors(item, items):
            if any(producer is p for p in producers):
                _bind(item, targets(producer) if producer.pk else _unsaved(producer))
                break


def _unsaved(item: BacklogItem) -> FictionItemTarget:
    """The targets of an item not inserted yet (created empty on first use)."""
    target: FictionItemTarget | None = item.__dict__.get("_fiction_targets")
    return target if target is not None else new_targets(item)


def _bind(item: BacklogItem, source: ChapterBlueprint | FictionItemTarget) -> None:
    """Bind ``item`` to a blueprint (or to the blueprint of another item's targets)."""
    blueprint = source if isinstance(source, ChapterBlueprint) else source.blueprint
    if item.pk is not None:
        bind_targets(item, blueprint=blueprint)
    else:
        _unsaved(item).blueprint = blueprint


def _ancestors(item: BacklogItem, items: list[BacklogItem]) -> list[BacklogItem]:
    """The items ``item`` depends on, nearest first (a breadth-first walk over tokens)."""
    by_output: dict[str, list[BacklogItem]] = {}
    for other in items:
        for token in other.outputs or []:
            by_output.setdefault(token, []).append(other)
    seen: set[int] = {id(item)}  # by identity: the items may not be stored yet
    order: list[BacklogItem] = []
    frontier = [item]
    while frontier:
        next_frontier = []
        for current in frontier:
            for token in current.inputs or []:
                for parent in by_output.get(token, []):
                    if id(parent) not in seen:
                        seen.add(id(parent))
                        order.append(parent)
                        next_frontier.append(parent)
        frontier = next_frontier
    return order


# --- iterative ------------------------------------------------------------------------------------


def materialise_iterative(
    item: BacklogItem, reply: IterativeReply, *, iteration: int
) -> Materialised:
    values = {
        "story_adjustments": list(reply.storyAdjustments),
        "character_priorities": list(reply.characterPriorities),
        "location_notes": list(reply.locationNotes),
        "systems_considerations": list(reply.systemsConsiderations),
        "risks": list(reply.risks),
    }
    # The item's own pass (a re-run) and the pass keyed by this iteration, in one read.
    candidates = list(
        PlanPass.objects.filter(
            Q(backlog_item=item) | Q(plan=item.plan, iteration=iteration)
        ).order_by()
    )
    plan_pass = next((p for p in candidates if p.backlog_item_id == item.pk), None)
    if plan_pass is None:
        keyed = next((p for p in candidates if p.iteration == iteration), None)
        plan_pass = upsert_rows(
            PlanPass,
            {"row": keyed} if keyed is not None else {},
            [
                (
                    "row",
                    {"plan": item.plan, "iteration": iteration},
                    {**values, "backlog_item": item},
                )
            ],
        )[0]
    else:
        for name, value in values.items():
            setattr(plan_pass, name, value)
        plan_pass.save()
    return Materialised(summary={"iteration": plan_pass.iteration, "planPassId": plan_pass.pk})


# --- chapter architect ----------------------------------------------------------------------------


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


# --- scroll refiner -------------------------------------------------------------------------------


def scene_backlog_id(scroll: ChapterScroll, scene: ChapterScene) -> str:
    return f"scene-{scroll.scroll_slug}-{scene.scene_slug}"[:SLUG_MAX]


@refresh_deferred()  # one refresh for all the scene items the scroll adds
def materialise_scroll(
    item: BacklogItem, reply: ScrollRefinerReply, *, blueprint: ChapterBlueprint, actor: str
) -> Materialised:
    plan = item.plan
    scroll, new_scroll = upsert_row(
        ChapterScroll,
        {"plan": plan, "scroll_slug": reply.scrollSlug[:SLUG_MAX]},
        {
            "blueprint": blueprint,
            "title": reply.title[:300],
            "synopsis": reply.synopsis,
        },
    )
    bind_targets(item, scroll=scroll, blueprint=blueprint)
    _bind_lore(plan.pk, scroll)

    scene_items: list[str] = []
    scenes: list[ChapterScene] = []
    # The plan's backlog ids and the next free position, in one read.
    stored_items = dict(
        BacklogItem.objects.filter(plan=plan).order_by().values_list("backlog_id", "position")
    )
    position = max(stored_items.values(), default=0) + 1
    for section_order, section_reply in enumerate(reply.sections, start=1):
        section, new_section = upsert_row(
            ChapterSection,
            {"scroll": scroll, "section_slug": section_reply.sectionSlug[:SLUG_MAX]},
            {
                "order": section_order,
                "title": section_reply.title[:300],
                "summary": section_reply.summary,
                "transitions": list(section_reply.transitions),
            },
            parent_is_new=new_scroll,
        )
        for scene_order, scene_reply in enumerate(section_reply.scenes, start=1):
            # Outline fields only: a re-run keeps any prose and status already drafted.
            scene, _ = upsert_row(
                ChapterScene,
                {"section": section, "scene_slug": scene_reply.sceneSlug[:SLUG_MAX]},
                {
                    "order": scene_order,
                    "title": scene_reply.title[:300],
                    "goal": scene_reply.goal,
                    "conflict": scene_reply.conflict,
                    "turn": scene_reply.turn,
                    "fallout": scene_reply.fallout,
                    "carry_forward": list(scene_reply.carryForward),
                },
                parent_is_new=new_section,
            )
            scenes.append(scene)
            backlog_id = scene_backlog_id(scroll, scene)
            if backlog_id not in stored_items:
                scene_item = BacklogItem.objects.create(
                    plan=plan,
                    backlog_id=backlog_id,
                    description=f"Draft the scene {scene.title or scene.scene_slug!r}.",
                    phase=Phase.SCENE_WEAVER,
                    position=position,
                    inputs=list(item.outputs or []),
                    outputs=[backlog_id],
                )
                FictionItemTarget.objects.create(
                    item=scene_item,
                    blueprint=blueprint,
                    scroll=scroll,
                    section=section,
                    scene=scene,
                )
                stored_items[backlog_id] = position
                position += 1
                record_new_backlog_item(
                    scene_item,
                    reason="scroll-sync",
                    actor=actor,
                    detail=f"added by scroll refinement ({item.backlog_id})",
                )
                scene_items.append(backlog_id)
    return Materialised(
        links=links(blueprint=blueprint, scroll=scroll),
        summary={
            "sections": [s.sectionSlug for s in reply.sections],
            "scenes": [scene.scene_slug for scene in scenes],
            "sceneIds": [scene.pk for scene in scenes],
            "sceneItems": scene_items,
        },
    )


def _bind_lore(plan_id: int, scroll: ChapterScroll) -> None:
    """Point requirements that name the scroll's slug at the scroll row. (A JSON ``contains``
    lookup would do this in one query on PostgreSQL, but SQLite lacks it.)"""
    for requirement in LoreRequirement.objects.filter(plan_id=plan_id, scroll__isnull=True):
        if scroll.scroll_slug in (requirement.required_for or []):
            requirement.scroll = scroll
            requirement.save(update_fields=["scroll", "updated_at"])


# --- scene weaver ---------------------------------------------------------------------------------


def materialise_scene(item: BacklogItem, draft: SceneDraft) -> Materialised:
    scene = targets(item).scene
    assert scene is not None  # the runner refuses a scene item without a scene before the call
    scene.prose = draft.prose
    scene.word_count = draft.wordCount
    scene.status = ChapterScene.Status.DRAFTED
    scene.save(update_fields=["prose", "word_count", "status", "updated_at"])
    return Materialised(
        links=links(scene=scene, section=scene.section, scroll=scene.section.scroll),
        summary={"wordCount": draft.wordCount, "coverage": draft.coverageRatio},
    )


def mark_scene(item: BacklogItem, status: str) -> None:
    """Record a scene phase that did not produce prose (blocked by the gate, or failed)."""
    scene_id = targets(item).scene_id
    if scene_id is not None:
        ChapterScene.objects.filter(pk=scene_id).update(status=status, updated_at=timezone.now())
