"""The dashboard's health banner, read from the planner health report."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from planners.health import PlannerHealthReport, build_health_report

logger = logging.getLogger(__name__)


@dataclass
class HealthSummary:
    status: str
    generated_at: datetime
    warnings: list[str] = field(default_factory=list)
    #: Celery workers seen alive, and whether beat is: with none, the status is never healthy.
    workers_alive: int = 0
    beat_alive: bool = False
    beat_seen: datetime | None = None
    alerts_evaluated_at: datetime | None = None


def health_summary(
    *, plan_id: int | None = None, report: PlannerHealthReport | None = None
) -> HealthSummary:
    """Status, time and warnings of the health report, as the banner shows them (its alert
    count is the nav badge's: firing and not silenced). A page that also needs the report for
    its cards builds it once and passes it in."""
    if report is None:
        report = build_health_report(plan_id=plan_id)
    return HealthSummary(
        status=str(report.status),
        generated_at=report.generated_at,
        warnings=[str(w) for w in report.warnings],
        workers_alive=len(report.liveness.alive_workers),
        beat_alive=report.liveness.beat_alive,
        beat_seen=report.liveness.beat.last_seen if report.liveness.beat else None,
        alerts_evaluated_at=report.liveness.alerts_evaluated_at,
    )
