"""What the plan page shows of a non-fiction plan: its brief, outline and section drafts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from planners.models.nonfiction import NonfictionBrief, NonfictionOutline, OutlineSection

if TYPE_CHECKING:
    from planners.models import Plan


def records_context(plan: Plan) -> dict[str, Any]:
    """The context of ``console/records/nonfiction.html``: three queries whatever the size."""
    return {
        "brief": NonfictionBrief.objects.filter(plan=plan).first(),
        "outline": NonfictionOutline.objects.filter(plan=plan).first(),
        "sections": list(
            OutlineSection.objects.filter(plan=plan)
            .select_related("backlog_item")
            .order_by("order", "pk")
        ),
    }
