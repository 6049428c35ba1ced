"""What the fiction pipeline tells the health report: plans whose lore blocks their scrolls."""

from __future__ import annotations

from planners.models import LoreRequirement
from planners.pipeline.registry import HealthFinding

#: How many blocked requirements the report reads at most (the count is exact).
LORE_LIMIT = 200


def lore_findings(plan_id: int | None) -> list[HealthFinding]:
    """One ``lore:blocked`` warning when any plan has blocked lore requirements (one query)."""
    requirements = LoreRequirement.objects.filter(status=LoreRequirement.Status.BLOCKED)
    if plan_id is not None:
        requirements = requirements.filter(plan_id=plan_id)
    rows = list(
        requirements.order_by("plan_id", "requirement_slug").values_list(
            "plan_id", "plan__name", "requirement_slug"
        )[:LORE_LIMIT]
    )
    if not rows:
        return []
    plans: dict[int, tuple[str, list[str]]] = {}
    for pid, name, slug in rows:
        plans.setdefault(pid, (name, []))[1].append(slug)
    listed = "; ".join(
        f"plan {pid} ({name}): {', '.join(slugs)}" for pid, (name, slugs) in list(plans.items())[:5]
    )
    return [
        HealthFinding(
            alert_id="lore:blocked",
            severity="warning",
            title=f"{len(plans)} plan(s) have blocked lore requirements",
            description=(
                f"{len(rows)} blocked lore requirement(s) gate scroll and scene phases: {listed}."
            ),
            plan_id=next(iter(plans)) if len(plans) == 1 else None,
        )
    ]
