"""The recent transitions card: the health report's list of real items' status changes."""

from __future__ import annotations

from planners.health import backlog as health_backlog
from planners.health.report import PlannerHealthReport, TransitionEntry

ROWS = 15


def recent_transitions(*, report: PlannerHealthReport | None = None) -> list[TransitionEntry]:
    """Read from ``report`` when the page built one (no query), else one query."""
    if report is not None:
        return list(report.backlog.recent_transitions[:ROWS])
    return list(health_backlog.recent_transitions(plan_id=None, limit=ROWS))
