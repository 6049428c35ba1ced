"""Syncing the plan's backlog with the vision's ``planningBacklog``, and binding the chapter and
scroll items it adds to their blueprints."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from planners.fiction.materialise.rows import SLUG_MAX
from planners.fiction.phases import VISION_BACKLOG_ID, Phase, infer_phase
from planners.fiction.schemas import BacklogEntry
from planners.fiction.targets import bind_targets, new_targets, targets
from planners.models import (
    BacklogItem,
    BacklogStatus,
    ChapterBlueprint,
    FictionItemTarget,
    Plan,
)
from planners.pipeline.transitions import record_new_backlog_items

logger = logging.getLogger(__name__)

#: Backlog phases the vision reply manages; scene items belong to the scroll refiner.
VISION_MANAGED_PHASES = (Phase.ITERATIVE, Phase.CHAPTER_ARCHITECT, Phase.SCROLL_REFINER)


@dataclass
class BacklogSync:
    """What a sync did to each listed backlog id, and the items to insert or re-bind."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    listed: set[str] = field(default_factory=set)
    new_items: list[BacklogItem] = field(default_factory=list)


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
    existing = {b.backlog_id: b for b in plan.backlog_items.all()}
    sync = BacklogSync()
    for position, entry in enumerate(entries, start=1):
        _sync_entry(vision_item, entry, position, existing, sync)
    _insert_new_items(vision_item, sync.new_items, actor=actor)
    removed = _remove_unlisted(plan, existing, sync.listed)
    logger.info(
        "vision sync on plan %s: created %s, updated %s, kept %s",
        plan.pk,
        sync.created,
        sync.updated,
        sync.kept,
    )
    return {"created": sync.created, "updated": sync.updated, "kept": sync.kept, "removed": removed}


def _sync_entry(
    vision_item: BacklogItem,
    entry: BacklogEntry,
    position: int,
    existing: dict[str, BacklogItem],
    sync: BacklogSync,
) -> None:
    """Prepare one listed entry: a new (unsaved) item, an update to an item that never ran, or
    nothing for the vision itself and for items that already ran."""
    backlog_id = entry.id[:SLUG_MAX]
    sync.listed.add(backlog_id)
    if backlog_id == VISION_BACKLOG_ID or backlog_id == vision_item.backlog_id:
        sync.kept.append(backlog_id)
        return
    fields = {
        "description": entry.description,
        "phase": infer_phase(backlog_id, entry.outputs),
        "position": position,
        "inputs": list(entry.inputs),
        "outputs": list(entry.outputs),
    }
    item = existing.get(backlog_id)
    if item is None:
        # Inserted later, in one statement, once bound to its blueprint.
        item = BacklogItem(plan=vision_item.plan, backlog_id=backlog_id, **fields)
        sync.created.append(backlog_id)
        sync.new_items.append(item)
    elif _never_ran(item):
        changed = [name for name, value in fields.items() if getattr(item, name) != value]
        for name in changed:
            setattr(item, name, fields[name])
        if changed:
            item.save(update_fields=[*changed, "updated_at"])
            sync.updated.append(backlog_id)
        sync.new_items.append(item)
    else:
        sync.kept.append(backlog_id)


def _insert_new_items(vision_item: BacklogItem, items: list[BacklogItem], *, actor: str) -> None:
    """Bind the items to their blueprints, insert the unsaved ones with their targets in bulk,
    and record each new item's transition."""
    plan = vision_item.plan
    _bind_blueprints(plan.pk, items)
    inserted = BacklogItem.objects.bulk_create([i for i in items if i.pk is None])
    if inserted:
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


def _remove_unlisted(plan: Plan, existing: dict[str, BacklogItem], listed: set[str]) -> list[str]:
    """Delete the vision-managed items the reply no longer lists and that never ran."""
    removed = []
    for backlog_id, item in existing.items():
        if backlog_id not in listed and item.phase in VISION_MANAGED_PHASES and _never_ran(item):
            removed.append(backlog_id)
            item.delete()
    if removed:
        logger.info("vision sync on plan %s removed never-run items %s", plan.pk, removed)
    return removed


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
