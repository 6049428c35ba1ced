"""The telemetry section: what planner runs did, from ``PlannerExecution`` rows.

A fixed number of queries: one aggregate for the counts and token totals, one for the last run,
one bounded list of recent failures, two single-row reads for the latency percentiles (ORDER BY
+ OFFSET from the count, which works the same on SQLite and PostgreSQL), and two small
group-bys for critique statuses and quota breaches. Synthetic runs are left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Sum, Window
from django.db.models.functions import Coalesce

from planners.health.report import (
    CritiqueCount,
    ExecutionRef,
    LatencySummary,
    QuotaBreach,
    TokenTotals,
)
from planners.models import PlannerExecution, PlannerOutcome

FAILURE_LIMIT = 10
SNIPPET_CHARS = 280
QUOTA_OUTCOMES = (PlannerOutcome.THROTTLED, PlannerOutcome.REJECTED)


def _executions(plan_id: int | None) -> QuerySet[PlannerExecution]:
    runs = PlannerExecution.objects.filter(synthetic=False)
    return runs if plan_id is None else runs.filter(plan_id=plan_id)


def execution_totals(*, plan_id: int | None, since: datetime) -> dict[str, Any]:
    """Counts per outcome (all time and within the window) and token totals, in one query."""
    recent = Q(created_at__gte=since)
    aggregates: dict[str, Any] = {}
    for outcome in PlannerOutcome.values:
        aggregates[f"all_{outcome}"] = Count("id", filter=Q(outcome=outcome))
        aggregates[f"recent_{outcome}"] = Count("id", filter=recent & Q(outcome=outcome))
    row = _executions(plan_id).aggregate(
        total=Count("id"),
        recent=Count("id", filter=recent),
        prompt_tokens=Coalesce(Sum("prompt_tokens"), 0),
        completion_tokens=Coalesce(Sum("completion_tokens"), 0),
        critique_tokens=Coalesce(Sum("critique_tokens"), 0),
        **aggregates,
    )
    return {
        "total": row["total"],
        "recent": row["recent"],
        "by_outcome": {o: row[f"all_{o}"] for o in PlannerOutcome.values},
        "recent_by_outcome": {o: row[f"recent_{o}"] for o in PlannerOutcome.values},
        "tokens": TokenTotals(
            prompt=row["prompt_tokens"],
            completion=row["completion_tokens"],
            critique=row["critique_tokens"],
        ),
    }


_EXECUTION_FIELDS = (
    "id",
    "planner_slug",
    "outcome",
    "created_at",
    "plan_id",
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
    )


def last_execution(*, plan_id: int | None) -> ExecutionRef | None:
    row = _executions(plan_id).order_by("-created_at", "-id").values(*_EXECUTION_FIELDS).first()
    return _execution_ref(row, with_snippet=False) if row else None


def recent_failures(
    *, plan_id: int | None, since: datetime
) -> tuple[int, tuple[ExecutionRef, ...]]:
    """Failed runs within the window: (total, most recent with a transcript snippet)."""
    rows = list(
        _executions(plan_id)
        .filter(outcome=PlannerOutcome.FAILED, created_at__gte=since)
        .annotate(total=Window(expression=Count("id")))
        .order_by("-created_at", "-id")
        .values(*_EXECUTION_FIELDS, "transcript", "total")[:FAILURE_LIMIT]
    )
    return (rows[0]["total"] if rows else 0), tuple(
        _execution_ref(row, with_snippet=True) for row in rows
    )


def _rank_offset(samples: int, percentile: float) -> int:
    """Nearest-rank percentile as a zero-based offset into the sorted samples."""
    return max(math.ceil(percentile * samples) - 1, 0)


def latency_percentiles(*, plan_id: int | None, since: datetime, samples: int) -> LatencySummary:
    """p50/p95 of agent latency within the window. ``samples`` is the window's run count from
    ``execution_totals``; both reads run even when it is 0 so the query count never varies."""
    ordered = (
        _executions(plan_id)
        .filter(created_at__gte=since)
        .order_by("latency_ms", "id")
        .values_list("latency_ms", flat=True)
    )
    values = []
    for percentile in (0.5, 0.95):
        offset = _rank_offset(samples, percentile)
        found = list(ordered[offset : offset + 1])
        values.append(round(found[0] / 1000, 3) if found and samples else None)
    return LatencySummary(samples=samples, p50_seconds=values[0], p95_seconds=values[1])


def critique_counts(*, plan_id: int | None, since: datetime) -> tuple[CritiqueCount, ...]:
    rows = (
        _executions(plan_id)
        .filter(created_at__gte=since)
        .exclude(critique_status="")
        .values("planner_slug", "critique_status")
        .annotate(n=Count("id"))
        .order_by("planner_slug", "critique_status")
    )
    return tuple(
        CritiqueCount(planner=row["planner_slug"], status=row["critique_status"], count=row["n"])
        for row in rows
    )


def quota_breaches(*, plan_id: int | None, since: datetime) -> tuple[QuotaBreach, ...]:
    rows = (
        _executions(plan_id)
        .filter(created_at__gte=since, outcome__in=QUOTA_OUTCOMES)
        .values("planner_slug", "quota_limit", "outcome")
        .annotate(n=Count("id"), last_at=Max("created_at"))
        .order_by("planner_slug", "quota_limit", "outcome")
    )
    return tuple(
        QuotaBreach(
            planner=row["planner_slug"],
            limit=row["quota_limit"] or "unknown",
            outcome=row["outcome"],
            count=row["n"],
            last_at=row["last_at"],
        )
        for row in rows
    )
