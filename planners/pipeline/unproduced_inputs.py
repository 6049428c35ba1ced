"""Which input tokens of a backlog item no item of its plan outputs, kept on the item itself.

Item A depends on item B when an input token of A is an output token of B (design.md §3). An
input token that no real item of the plan outputs makes A an orphan in the health report
(``after:<phase>`` inputs wait on phases, not tokens, and never make an orphan).
Working that out at read time means unnesting every output token of every plan on every report
(hundreds of milliseconds at 100,000 items), so it is worked out when a plan's items change
instead, and stored on each item as ``unproduced_inputs`` with the indexed flag
``has_unproduced_inputs``: the report then reads only the flagged rows.

Who keeps it current:

- saving one item through the ORM (the admin, ``objects.create``, ``get_or_create``,
  ``item.save()``) refreshes its plan through the ``post_save`` receiver below;
- deleting items calls ``plan_items_changed(plan_id)`` (the vision sync and the admin do). There
  is deliberately no ``post_delete`` receiver: one would stop Django from deleting a plan's
  items in one statement and make it load and signal every row instead;
- code that writes many items at once wraps the writes in ``refresh_deferred()``, which
  refreshes each touched plan once on the way out;
- ``bulk_create``, ``QuerySet.update`` and raw SQL send no signals: after them, call
  ``refresh_unproduced_inputs(plan_ids)`` (the benchmark's data generator does, and the
  migration that added the fields did it for every existing plan).

A refresh reads the plan's items' tokens in one query and writes only the items whose answer
changed, so a status change (which never touches tokens) costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from planners.models import BacklogItem
from planners.pipeline.registry import AFTER_PREFIX

#: The fields a save must touch for the plan's answer to change.
TOKEN_FIELDS = frozenset({"inputs", "outputs", "plan", "plan_id", "synthetic"})

_deferred: ContextVar[set[int] | None] = ContextVar("unproduced_inputs_deferred", default=None)


def item_tokens(value: object) -> list[str]:
    """An item's input or output tokens, as the scheduler and the health report both read them:
    a list's non-empty elements as text, a bare string as one token; any other shape (an
    object, a number) holds no tokens."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list | tuple):
        return [str(token) for token in value if token not in (None, "")]
    return []


def refresh_unproduced_inputs(
    plan_ids: Iterable[int], *, item_model: type[BacklogItem] = BacklogItem
) -> int:
    """Recompute ``unproduced_inputs`` for every item of ``plan_ids``; returns how many items
    changed. Only real (non-synthetic) items' outputs resolve an input, as in the report.
    ``item_model`` lets a migration pass its historical model."""
    plan_ids = sorted(set(plan_ids))
    if not plan_ids:
        return 0
    rows = item_model.objects.filter(plan_id__in=plan_ids).values_list(
        "pk", "plan_id", "inputs", "outputs", "synthetic", "unproduced_inputs"
    )
    produced: dict[int, set[str]] = {plan_id: set() for plan_id in plan_ids}
    items: list[tuple[int, int, Any, Any]] = []
    for pk, plan_id, inputs, outputs, synthetic, stored in rows:
        if not synthetic:
            produced[plan_id].update(item_tokens(outputs))
        items.append((pk, plan_id, inputs, stored))
    changed = []
    for pk, plan_id, inputs, stored in items:
        missing = sorted(
            {
                token
                for token in item_tokens(inputs)
                if token not in produced[plan_id] and not token.startswith(AFTER_PREFIX)
            }
        )
        if missing != stored:
            changed.append(
                item_model(pk=pk, unproduced_inputs=missing, has_unproduced_inputs=bool(missing))
            )
    item_model.objects.bulk_update(
        changed, ["unproduced_inputs", "has_unproduced_inputs"], batch_size=1000
    )
    return len(changed)


def refresh_all_plans(*, chunk: int = 50, item_model: type[BacklogItem] = BacklogItem) -> int:
    """Recompute every plan that has items (after bulk loads, and the migration's backfill)."""
    plan_ids = list(
        item_model.objects.order_by("plan_id").values_list("plan_id", flat=True).distinct()
    )
    return sum(
        refresh_unproduced_inputs(plan_ids[start : start + chunk], item_model=item_model)
        for start in range(0, len(plan_ids), chunk)
    )


@contextmanager
def refresh_deferred() -> Iterator[None]:
    """Collect the plans whose items are saved or deleted inside the block and refresh each
    once at the end (the outermost block does it; nested blocks join it)."""
    if _deferred.get() is not None:
        yield
        return
    touched: set[int] = set()
    token = _deferred.set(touched)
    try:
        yield
    finally:
        _deferred.reset(token)
    refresh_unproduced_inputs(touched)


def plan_items_changed(plan_id: int) -> None:
    """Items of ``plan_id`` were added, changed or deleted: refresh it now, or at the end of
    the enclosing ``refresh_deferred()`` block."""
    touched = _deferred.get()
    if touched is not None:
        touched.add(plan_id)
    else:
        refresh_unproduced_inputs([plan_id])


@receiver(post_save, sender=BacklogItem, dispatch_uid="unproduced_inputs_on_save")
def _item_saved(
    sender: type[BacklogItem],
    instance: BacklogItem,
    created: bool,
    update_fields: frozenset[str] | None,
    raw: bool,
    **kwargs: Any,
) -> None:
    if raw:  # loaddata: fixtures carry the stored answer
        return
    if created or update_fields is None or TOKEN_FIELDS & set(update_fields):
        plan_items_changed(instance.plan_id)
