"""The planners section: every catalog planner, its steps and their template state.

One query whatever the catalog size, for the templates of every step (helper
``cognition.prompts.template_states``, the same answer planners act on); the recent runs per
planner and template (runs, fallback runs, failures, last run) are summed from the telemetry's
execution groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cognition.prompts import MISSING, template_states
from planners.framework.catalog import catalog
from planners.health.execution_groups import ExecutionGroup
from planners.health.report import PlannerState, StepState
from planners.health.telemetry import FAILURE_OUTCOMES


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
    last_outcome: str = ""
    fallback_templates: set[str] = field(default_factory=set)


def _recent_runs(groups: list[ExecutionGroup]) -> dict[str, _RunCounts]:
    """Per planner, recent runs summed over its execution groups; the templates of fallback runs
    are kept so fallback can be pinned to a step (no query)."""
    counts: dict[str, _RunCounts] = {}
    for group in groups:
        if not group.recent:
            continue
        entry = counts.setdefault(group.planner_slug, _RunCounts())
        entry.runs += group.recent
        entry.fallback += group.recent_fallback
        if group.outcome in FAILURE_OUTCOMES:
            entry.failed += group.recent
        last_at = group.recent_last_at
        if last_at is not None and (entry.last_at is None or last_at > entry.last_at):
            # The newest group's outcome is the outcome of the planner's last run.
            entry.last_at, entry.last_outcome = last_at, group.outcome
        if group.recent_fallback:
            entry.fallback_templates.add(group.template_id)
    return counts


def planner_states(
    planners: list[CatalogPlanner], *, groups: list[ExecutionGroup]
) -> tuple[tuple[PlannerState, ...], list[str]]:
    """Each planner's state, plus the slugs of recent runs no registered planner claims (a
    renamed or removed planner whose runs would otherwise vanish from the report)."""
    templates = template_states(s.template_id for p in planners for s in p.steps)
    runs = _recent_runs(groups)
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
                last_run_outcome=run.last_outcome,
            )
        )
    registered = {p.slug for p in planners}
    return tuple(states), sorted(set(runs) - registered)
