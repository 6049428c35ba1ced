"""The telemetry section's reads of single runs, from ``PlannerExecution`` rows: one for the
last run, one bounded list of recent failures and one read of the two latency percentiles (runs
numbered in latency order, which works the same on SQLite and PostgreSQL). The grouped counts
are ``planners.health.execution_groups``. Synthetic runs are left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber

from planners.health.execution_groups import real_executions
from planners.health.telemetry_section import ExecutionRef, LatencySummary
from planners.models import PlannerOutcome

FAILURE_LIMIT = 10
SNIPPET_CHARS = 280
#: What "failure" means everywhere (the report, its alert, the console's card and chart): the run
#: ended without its work and waiting will not help, as the framework's end events say
#: (``planner.failed`` for both). Throttled and rejected runs were stopped by a quota and have
#: their own ``planner:quota:*`` alerts; a cancelled run is an operator's choice.
FAILURE_OUTCOMES = (PlannerOutcome.FAILED, PlannerOutcome.BLOCKED)


_EXECUTION_FIELDS = (
    "id",
    "planner_slug",
    "outcome",
    "created_at",
    "plan_id",
    "plan__name",
    "backlog_item__backlog_id",
    "duration_ms",
    "error",
)


def transcript_snippet(transcript: Any, error: str = "") -> str:
    """The last message of a run's transcript (where a failure usually shows), shortened."""
    text = ""
    if isinstance(transcript, list):
        for entry in reversed(transcript):
            if isinstance(entry, Mapping) and str(entry.get("message", "")).strip():
                text = f"{entry.get('role', '')}: {str(entry['message']).strip()}".lstrip(": ")
                break
    text = text or error
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def _execution_ref(row: Mapping[str, Any], *, with_snippet: bool) -> ExecutionRef:
    return ExecutionRef(
        id=row["id"],
        planner=row["planner_slug"],
        outcome=row["outcome"],
        at=row["created_at"],
        plan_id=row["plan_id"],
        backlog_id=row["backlog_item__backlog_id"] or "",
        duration_seconds=round(row["duration_ms"] / 1000, 3),
        error=(row["error"] or "")[:SNIPPET_CHARS],
        transcript_snippet=(
            transcript_snippet(row.get("transcript"), row["error"] or "") if with_snippet else ""
        ),
        plan_name=row["plan__name"] or "",
    )


def last_execution(*, plan_id: int | None) -> ExecutionRef | None:
    row = real_executions(plan_id).order_by("-created_at", "-id").values(*_EXECUTION_FIELDS).first()
    return _execution_ref(row, with_snippet=False) if row else None


def recent_failures(
    *, plan_id: int | None, since: datetime, limit: int = FAILURE_LIMIT
) -> tuple[int, tuple[ExecutionRef, ...]]:
    """Runs that failed within the window: (total, the ``limit`` most recent with a transcript
    snippet), in one query.

    A failure is a real run whose outcome is in ``FAILURE_OUTCOMES``: failed or blocked (its
    reply still failed validation after the repair attempt). Throttled and rejected runs are
    quota stops (``quota_breaches``), cancelled runs an operator's choice; neither counts."""
    rows = list(
        real_executions(plan_id)
        .filter(outcome__in=FAILURE_OUTCOMES, created_at__gte=since)
        .annotate(total=Window(expression=Count("id")))
        .order_by("-created_at", "-id")
        .values(*_EXECUTION_FIELDS, "transcript", "total")[:limit]
    )
    return (rows[0]["total"] if rows else 0), tuple(
        _execution_ref(row, with_snippet=True) for row in rows
    )


def _rank_offset(samples: int, percentile: float) -> int:
    """Nearest-rank percentile as a zero-based offset into the sorted samples."""
    return max(math.ceil(percentile * samples) - 1, 0)


def latency_percentiles(*, plan_id: int | None, since: datetime, samples: int) -> LatencySummary:
    """p50/p95 of agent latency within the window, in one query: the window's runs numbered
    in latency order and the two nearest ranks picked. ``samples`` is the window's run count
    from ``execution_totals``; the read runs even when it is 0 so the query count never varies."""
    offsets = [_rank_offset(samples, percentile) for percentile in (0.5, 0.95)]
    found = dict(
        real_executions(plan_id)
        .filter(created_at__gte=since)
        .annotate(rank=Window(RowNumber(), order_by=[F("latency_ms").asc(), F("id").asc()]))
        .filter(rank__in=[offset + 1 for offset in offsets])
        .values_list("rank", "latency_ms")
    )
    values = [
        round(found[offset + 1] / 1000, 3) if samples and offset + 1 in found else None
        for offset in offsets
    ]
    return LatencySummary(samples=samples, p50_seconds=values[0], p95_seconds=values[1])
