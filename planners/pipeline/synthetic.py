"""Synthetic backlog entries: what a drill (``trigger_synthetic_alert``) forces so that a real
``backlog:stale`` alert fires for one planner, on a plan of their own that never runs.

The entry is flagged ``synthetic``: the health report keeps it out of real counts and raises a
separate alert for it; the scheduler never queues it.
"""

from __future__ import annotations

from datetime import datetime

from planners.framework.catalog import catalog
from planners.models import BacklogItem, BacklogStatus, Plan, Project
from planners.pipeline.registry import PipelineError, pipelines
from planners.pipeline.transitions import transition_backlog_item

SYNTHETIC_PROJECT_TITLE = "Synthetic alert checks"
SYNTHETIC_PLAN_BRANCH = "synthetic"


def synthetic_backlog_id(planner_slug: str) -> str:
    return f"synthetic-stale-{planner_slug}"


def drillable_phase(planner_slug: str) -> tuple[str, str]:
    """The pipeline and phase ``planner_slug`` runs; ``PipelineError`` says why it cannot be
    drilled (an unknown planner, or one no pipeline runs) and names those that can."""
    found = pipelines.phase_for_planner(planner_slug)
    if found is None:
        known = sorted(
            slug for slug in catalog.slugs() if pipelines.phase_for_planner(slug) is not None
        )
        why = "no pipeline runs it" if planner_slug in catalog else "unknown planner"
        raise PipelineError(
            f"Cannot drill planner {planner_slug!r} ({why}); planners in a pipeline: "
            f"{', '.join(known)}."
        )
    pipeline, spec = found
    return pipeline.slug, spec.key


def force_stale_item(planner_slug: str, *, actor: str, since: datetime) -> BacklogItem:
    """The planner's synthetic entry, in progress since ``since`` (call it in a transaction)."""
    pipeline, phase = drillable_phase(planner_slug)
    project, _ = Project.objects.get_or_create(
        title=SYNTHETIC_PROJECT_TITLE,
        defaults={"description": "Holds synthetic backlog entries made by Ops checks."},
    )
    plan, _ = Plan.objects.get_or_create(
        project=project,
        pipeline=pipeline,
        branch=SYNTHETIC_PLAN_BRANCH,
        defaults={"name": "Synthetic alerts"},
    )
    item, _ = BacklogItem.objects.get_or_create(
        plan=plan,
        backlog_id=synthetic_backlog_id(planner_slug),
        defaults={
            "phase": phase,
            "synthetic": True,
            "description": f"Synthetic stale entry for planner {planner_slug}.",
        },
    )
    stale_since = {"in_progress_at": since, "heartbeat_at": since}
    if not transition_backlog_item(
        item,
        BacklogStatus.IN_PROGRESS,
        reason="synthetic-alert",
        actor=actor,
        extra_fields=stale_since,
    ):
        BacklogItem.objects.filter(pk=item.pk).update(**stale_since)
    return item


def clear_synthetic_item(planner_slug: str) -> int:
    """Delete the planner's synthetic entry, so its stale alert resolves; how many entries went
    (not counting the rows deleted with them, such as their transitions)."""
    drillable_phase(planner_slug)
    _, deleted = BacklogItem.objects.filter(
        synthetic=True,
        plan__branch=SYNTHETIC_PLAN_BRANCH,
        plan__project__title=SYNTHETIC_PROJECT_TITLE,
        backlog_id=synthetic_backlog_id(planner_slug),
    ).delete()
    return deleted.get(BacklogItem._meta.label, 0)
