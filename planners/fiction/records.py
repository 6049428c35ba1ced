"""What the plan page shows of a fiction plan: everything its phases materialised."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch

from planners.fiction.inputs import vision_of
from planners.models import ChapterBlueprint, ChapterScroll, ChapterSection, Plan


def records_context(plan: Plan) -> dict[str, Any]:
    """The context of ``console/records/fiction.html`` (a fixed number of queries)."""
    return {
        "vision": vision_of(plan),
        "cast": list(plan.cast.all()),
        "lore": list(plan.lore.all()),
        "passes": list(plan.passes.all()),
        "blueprints": list(
            ChapterBlueprint.objects.filter(plan=plan).prefetch_related("beats").order_by("id")
        ),
        "scrolls": list(
            ChapterScroll.objects.filter(plan=plan)
            .select_related("blueprint")
            .prefetch_related(
                Prefetch(
                    "sections",
                    queryset=ChapterSection.objects.prefetch_related("scenes"),
                )
            )
            .order_by("id")
        ),
    }
