"""Fixed health alerts, and a stand-in report carrying them, for Ops alert evaluation."""

from __future__ import annotations

from types import SimpleNamespace

from planners.health import HealthAlert
from planners.health import Severity as HealthSeverity

STALE = HealthAlert(
    id="backlog:stale",
    severity=HealthSeverity.WARNING,
    title="2 backlog items stale",
    description="In progress for more than 2 h: outline-core-conflicts, chapter-1-blueprint.",
    planner="chapter-architect",
    plan_id=7,
    backlog_id="outline-core-conflicts",
)
FAILURES = HealthAlert(
    id="planner:recent-failures",
    severity=HealthSeverity.ERROR,
    title="3 failed planner runs",
    description="scene-weaver failed 3 times in the last 24 h.",
    planner="scene-weaver",
)
NO_EXECUTIONS = HealthAlert(
    id="planner:no-executions",
    severity=HealthSeverity.INFO,
    title="No planner has run yet",
    description="Nothing has run.",
)


def report(*alerts: HealthAlert, status: str = "degraded") -> SimpleNamespace:
    """A stand-in for ``PlannerHealthReport`` carrying only what evaluation reads."""
    return SimpleNamespace(status=status, alerts=list(alerts))
