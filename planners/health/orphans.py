"""Orphaned backlog items: unfinished real items with an input token no item of their plan
outputs (design.md §3, alert ``backlog:orphaned``).

The answer is stored on each item by ``planners.pipeline.unproduced_inputs`` whenever the plan's
items change, so this reads only the flagged rows through a partial index: its cost follows the
number of orphans, not the size of the backlog. (A plan cannot vanish under its items: the
foreign key cascades, so "plan missing" needs no query.)
"""

from __future__ import annotations

from django.db.models import Count, Window

from planners.health.report import BacklogItemRef
from planners.models import BacklogItem, BacklogStatus


def orphaned_items(*, plan_id: int | None, limit: int) -> tuple[int, tuple[BacklogItemRef, ...]]:
    """Unfinished real items that cannot be resolved: (total, first ``limit`` of them), in one
    query (the total rides along as a window count)."""
    orphans = BacklogItem.objects.filter(has_unproduced_inputs=True, synthetic=False).exclude(
        status=BacklogStatus.COMPLETE
    )
    if plan_id is not None:
        orphans = orphans.filter(plan_id=plan_id)
    rows = list(
        orphans.annotate(total=Window(Count("*")))
        .order_by("plan_id", "pk")
        .values_list(
            "pk",
            "plan_id",
            "plan__name",
            "backlog_id",
            "phase",
            "status",
            "unproduced_inputs",
            "total",
        )[:limit]
    )
    items = tuple(
        BacklogItemRef(
            id=pk,
            plan_id=plan,
            plan_name=plan_name,
            backlog_id=backlog_id,
            phase=phase,
            status=status,
            missing_inputs=tuple(missing),
        )
        for pk, plan, plan_name, backlog_id, phase, status, missing, _ in rows
    )
    return (rows[0][-1] if rows else 0), items
