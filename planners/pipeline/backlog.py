"""Adding items to a plan's backlog: what a pipeline's start and a fan-out phase use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Max

from planners.models import BacklogItem, Plan
from planners.pipeline.transitions import record_new_backlog_items


@dataclass(frozen=True)
class NewItem:
    """An item to add: its id (unique in the plan), the phase that runs it and its tokens."""

    backlog_id: str
    phase: str
    description: str = ""
    inputs: Sequence[str] = ()
    outputs: Sequence[str] = ()


def add_backlog_items(
    plan: Plan, new_items: Sequence[NewItem], *, reason: str, actor: str = ""
) -> list[BacklogItem]:
    """Insert the items of ``new_items`` the plan does not hold yet (by ``backlog_id``), after
        its last item, each with the transition that shows it entering the backlog. Returns the
        plan's item for every entry, in order: the new row, or the one already there (a redelivered
        phase adds nothing twice). Call it inside the phase's transaction; the engine refreshes the
    plan's unproduced inputs after it (``planners.pipeline.unproduced_inputs``)."""
    wanted = [entry.backlog_id for entry in new_items]
    existing = {
        item.backlog_id: item
        for item in BacklogItem.objects.filter(plan=plan, backlog_id__in=wanted)
    }
    position = BacklogItem.objects.filter(plan=plan).aggregate(last=Max("position"))["last"] or 0
    fresh: list[BacklogItem] = []
    for entry in new_items:
        if entry.backlog_id in existing:
            continue
        position += 1
        item = BacklogItem(
            plan=plan,
            backlog_id=entry.backlog_id,
            phase=entry.phase,
            description=entry.description,
            position=position,
            inputs=list(entry.inputs),
            outputs=list(entry.outputs),
        )
        existing[entry.backlog_id] = item
        fresh.append(item)
    if fresh:
        BacklogItem.objects.bulk_create(fresh)
        record_new_backlog_items(fresh, reason=reason, actor=actor)
    return [existing[backlog_id] for backlog_id in wanted]
