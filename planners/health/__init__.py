"""The planner health report (design.md §4).

``build_health_report()`` computes it from aggregate queries; ``report.to_dict()`` is its JSON
form for the diagnostics API, the ``planner_health`` command, ops alerting and the console.
"""

from __future__ import annotations

from planners.health.build import UnknownPlanError, build_health_report
from planners.health.report import (
    HealthAlert,
    HealthStatus,
    PlannerHealthReport,
    Severity,
    overall_status,
)

__all__ = [
    "HealthAlert",
    "HealthStatus",
    "PlannerHealthReport",
    "Severity",
    "UnknownPlanError",
    "build_health_report",
    "overall_status",
]
