"""The iterative pass's writer: the plan pass this item writes, keyed by its iteration."""

from __future__ import annotations

from django.db.models import Q

from planners.fiction.materialise.rows import upsert_rows
from planners.fiction.schemas import IterativeReply
from planners.models import BacklogItem, PlanPass
from planners.pipeline.registry import Materialised


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
