"""The planners section: every catalog planner, its steps and their template state.

Two queries whatever the catalog size: one for the templates of every step (helper
``cognition.prompts.template_states``, the same answer planners act on), one grouping recent
executions per planner and template (runs, fallback runs, failures, last run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Q

from cognition.prompts import MISSING, template_states
from planners.health.report import PlannerState, StepState
from planners.models import PlannerExecution, PlannerOutcome


@dataclass(frozen=True)
class CatalogStep:
    id: str
    display_name: str
    template_id: str


@dataclass(frozen=True)
class CatalogPlanner:
    slug: str
    name: str
    capabilities: tuple[str, ...]
    steps: tuple[CatalogStep, ...]


def catalog_planners() -> list[CatalogPlanner]:
    """The registered planners, in catalog (pipeline) order, reduced to what the report needs
    (no query)."""
    from planners.framework.catalog import catalog

    planners: list[CatalogPlanner] = []
    for planner in catalog.all():
        meta: Any = planner.metadata
        steps = tuple(
            CatalogStep(id=s.id, display_name=s.display_name, template_id=s.template_id)
            for s in meta.steps
        )
        planners.append(
            CatalogPlanner(
                slug=meta.slug,
                name=meta.name,
                capabilities=tuple(meta.capabilities),
                steps=steps,
            )
        )
    return planners


@dataclass
class _RunCounts:
    runs: int = 0
    fallback: int = 0
    failed: int = 0
    last_at: datetime | None = None
    fallback_templates: set[str] = field(default_factory=set)


def _recent_runs(since: datetime, plan_id: int | None) -> dict[str, _RunCounts]:
    """Per planner, recent runs grouped by template so fallback can be pinned to a step."""
    runs = PlannerExecution.objects.filter(synthetic=False, created_at__gte=since)
    if plan_id is not None:
        runs = runs.filter(plan_id=plan_id)
    rows = (
        runs.values("planner_slug", "template_id")
        .annotate(
            runs=Count("id"),
            fallback=Count("id", filter=Q(used_fallback=True)),
            failed=Count("id", filter=Q(outcome=PlannerOutcome.FAILED)),
            last_at=Max("created_at"),
        )
        .order_by("planner_slug", "template_id")
    )
    counts: dict[str, _RunCounts] = {}
    for row in rows:
        entry = counts.setdefault(row["planner_slug"], _RunCounts())
        entry.runs += row["runs"]
        entry.fallback += row["fallback"]
        entry.failed += row["failed"]
        if row["last_at"] is not None and (entry.last_at is None or row["last_at"] > entry.last_at):
            entry.last_at = row["last_at"]
        if row["fallback"]:
            entry.fallback_templates.add(row["template_id"] or "")
    return counts


def planner_states(
    planners: list[CatalogPlanner], *, since: datetime, plan_id: int | None
) -> tuple[tuple[PlannerState, ...], list[str]]:
    """Each planner's state, plus the slugs of recent runs no registered planner claims (a
    renamed or removed planner whose runs would otherwise vanish from the report)."""
    templates = template_states(s.template_id for p in planners for s in p.steps)
    runs = _recent_runs(since, plan_id)
    states: list[PlannerState] = []
    for planner in planners:
        run = runs.get(planner.slug, _RunCounts())
        # A fallback run without a template id cannot be pinned to a step: flag every step.
        unpinned_fallback = "" in run.fallback_templates
        steps = []
        for step in planner.steps:
            state = templates.get(step.template_id, MISSING)
            steps.append(
                StepState(
                    id=step.id,
                    display_name=step.display_name,
                    template_id=step.template_id,
                    found=state.found,
                    active=state.active,
                    empty=state.empty,
                    version=state.version,
                    fallback_in_use=unpinned_fallback or step.template_id in run.fallback_templates,
                )
            )
        states.append(
            PlannerState(
                slug=planner.slug,
                name=planner.name,
                capabilities=planner.capabilities,
                steps=tuple(steps),
                runs_in_window=run.runs,
                fallback_runs_in_window=run.fallback,
                failed_runs_in_window=run.failed,
                last_run_at=run.last_at,
            )
        )
    registered = {p.slug for p in planners}
    return tuple(states), sorted(set(runs) - registered)
