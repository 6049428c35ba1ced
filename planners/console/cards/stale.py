"""The stale & orphaned card: the health report's definitions, so the card always agrees with
the ``backlog:stale`` and ``backlog:orphaned`` alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from planners.health import backlog as health_backlog
from planners.health import orphans as health_orphans
from planners.health.report import BacklogItemRef, PlannerHealthReport

ROWS = 15


@dataclass
class StaleAndOrphaned:
    stale: tuple[BacklogItemRef, ...]
    stale_total: int
    orphaned: tuple[BacklogItemRef, ...]
    orphaned_total: int


def stale_and_orphaned(
    now: datetime | None = None, *, report: PlannerHealthReport | None = None
) -> StaleAndOrphaned:
    """A page that already built the report passes it and this costs nothing; alone it is two
    queries (the report's own two)."""
    if report is not None:
        backlog = report.backlog
        return StaleAndOrphaned(
            backlog.stale[:ROWS],
            backlog.stale_total,
            backlog.orphaned[:ROWS],
            backlog.orphaned_total,
        )
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.HEALTH_STALE_BACKLOG_SECONDS)
    stale = health_backlog.stale_items(plan_id=None, cutoff=cutoff, now=now)
    orphaned_total, orphaned = health_orphans.orphaned_items(plan_id=None, limit=ROWS)
    return StaleAndOrphaned(stale.real[:ROWS], stale.real_total, orphaned, orphaned_total)


def stale_after_label() -> str:
    """How long an item may stay in progress before it is stale, as the card's heading says it."""
    seconds = settings.HEALTH_STALE_BACKLOG_SECONDS
    return f"{seconds // 3600} h" if seconds % 3600 == 0 else f"{max(1, seconds // 60)} min"
