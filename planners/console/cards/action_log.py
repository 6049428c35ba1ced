"""The action log card: the health report's list of operator and system actions."""

from __future__ import annotations

from planners.health import backlog as health_backlog
from planners.health.report import ActionLogLine, PlannerHealthReport

ROWS = 15


def recent_actions(*, report: PlannerHealthReport | None = None) -> list[ActionLogLine]:
    """Read from ``report`` when the page built one (no query), else one query."""
    if report is not None:
        return list(report.backlog.action_log[:ROWS])
    return list(health_backlog.action_log(limit=ROWS))
