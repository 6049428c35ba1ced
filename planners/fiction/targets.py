"""The rows a fiction backlog item works on (``FictionItemTarget``), read once per item.

The engine's ``BacklogItem`` knows no fiction rows; a fiction item's blueprint, scroll, section
and scene live in its ``FictionItemTarget``. ``targets(item)`` reads them (with the rows, in one
query) the first time and keeps them on the item; an item without targets gets an unsaved,
empty one, so callers never test for None. ``bind_targets`` stores new ones.
"""

from __future__ import annotations

from typing import Any

from planners.models import BacklogItem, FictionItemTarget

_CACHE = "_fiction_targets"
TARGET_FIELDS = ("blueprint", "scroll", "section", "scene")


def targets(item: BacklogItem) -> FictionItemTarget:
    cached: FictionItemTarget | None = item.__dict__.get(_CACHE)
    if cached is not None:
        return cached
    found = None
    if item.pk is not None:
        found = (
            FictionItemTarget.objects.select_related(*TARGET_FIELDS).filter(item_id=item.pk).first()
        )
    target = found or FictionItemTarget(item_id=item.pk)
    _link(target)
    item.__dict__[_CACHE] = target
    return target


def bind_targets(item: BacklogItem, **rows: Any) -> FictionItemTarget:
    """Point the item at ``rows`` (``blueprint=``, ``scroll=``...; the others stay) and store it."""
    target = targets(item)
    changed = [name for name, row in rows.items() if getattr(target, name) != row]
    for name in changed:
        setattr(target, name, rows[name])
    if target.item_id is None:
        target.item_id = item.pk
    if changed:
        target.save()
    _link(target)
    return target


def new_targets(item: BacklogItem, **rows: Any) -> FictionItemTarget:
    """The targets of an item about to be inserted in bulk (saved by the caller after it)."""
    target = FictionItemTarget(**rows)
    item.__dict__[_CACHE] = target
    return target


def _link(target: FictionItemTarget) -> None:
    """Point the scene's section, the section's scroll and the scroll's blueprint at the target's
    own rows when they are the same rows (as on every scene item), so walking from the scene
    reads nothing more."""
    scene, section, scroll = target.scene, target.section, target.scroll
    if scene is not None and section is not None and scene.section_id == section.pk:
        scene.section = section
    if section is not None and scroll is not None and section.scroll_id == scroll.pk:
        section.scroll = scroll
    blueprint = target.blueprint
    if scroll is not None and blueprint is not None and scroll.blueprint_id == blueprint.pk:
        scroll.blueprint = blueprint
