"""Which input tokens of a backlog item no item of its plan outputs, kept on the item itself.

Item A depends on item B when an input token of A is an output token of B (design.md §3). An
input token that no real item of the plan outputs makes A an orphan in the health report
(``after:<phase>`` inputs wait on phases, not tokens, and never make an orphan).
Working that out at read time means unnesting every output token of every plan on every report
(540 ms at 100,000 items on PostgreSQL, against 1.5 ms to read the flagged rows; backlog items
are never pruned, so bounded history does not bound it), so it is worked out when a plan's
items change
instead, and stored on each item as ``unproduced_inputs`` with the indexed flag
``has_unproduced_inputs``: the report then reads only the flagged rows.

Who keeps it current: the engine, which writes a plan's items. When a plan starts
(``planners.pipeline.plans``), and in a phase's record step when the phase adds items (its
spec's ``creates``): once, after the runner has materialised the reply, in the same transaction
under the plan's lock. The admin refreshes the plan of an item it saves or deletes. A bulk load
that bypasses both (the benchmark's data) calls ``refresh_all_plans()``.

A refresh reads the plan's items' tokens in one query and writes only the items whose answer
changed, so a status change (which never touches tokens) costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from planners.models import BacklogItem
from planners.pipeline.registry import AFTER_PREFIX


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
