"""The upserts every phase's writer keys its rows with, and the transcript links to those rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from django.db import models

from planners.models import ChapterBlueprint, ChapterScene, ChapterScroll, ChapterSection

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
