"""The planners & templates card: the health report's state of every planner step's template
and each planner's last run within the report's window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.utils import timezone

from planners.console.links import admin_url
from planners.health import backlog as health_backlog
from planners.health import execution_groups
from planners.health.planners import catalog_planners, planner_states
from planners.health.report import PlannerHealthReport, PlannerState, StepState


@dataclass(frozen=True)
class StepRow:
    step: StepState
    template_url: str

    @property
    def uses_fallback(self) -> bool:
        """The step runs on its built-in prompt: its template cannot be used, or recent runs
        of it fell back."""
        step = self.step
        return not step.found or not step.active or step.empty or step.fallback_in_use


@dataclass(frozen=True)
class PlannerRow:
    planner: PlannerState
    steps: list[StepRow]
    runs_url: str
    #: Success ratio per hour over the last day (``series.success_sparklines``), if it ran.
    sparkline: dict[str, Any] | None = None


def _planner_states(report: PlannerHealthReport | None) -> tuple[PlannerState, ...]:
    """From ``report`` (no query), else the report's two: execution groups and templates."""
    if report is not None:
        return report.planners
    since = health_backlog.window_start(timezone.now(), settings.HEALTH_FAILURE_WINDOW_SECONDS)
    groups = execution_groups.execution_groups(plan_id=None, since=since)
    return planner_states(catalog_planners(), groups=groups)[0]


def planner_rows(*, report: PlannerHealthReport | None = None) -> list[PlannerRow]:
    templates = admin_url("cognition_prompttemplate_changelist")
    runs = admin_url("planners_plannerexecution_changelist")
    return [
        PlannerRow(
            planner=state,
            steps=[
                StepRow(
                    step, f"{templates}?{urlencode({'q': step.template_id})}" if templates else ""
                )
                for step in state.steps
            ],
            runs_url=f"{runs}?{urlencode({'planner_slug': state.slug})}" if runs else "",
        )
        for state in _planner_states(report)
    ]


def window_hours() -> int:
    return max(1, settings.HEALTH_FAILURE_WINDOW_SECONDS // 3600)
