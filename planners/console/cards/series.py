"""Time series for the console's charts: runs, failures and latency p50/p95 per bucket over a
range an operator picks (1 h, 24 h, 7 d), and each planner's success ratio over the last day.

Each series is a fixed number of queries whatever the number of runs: counts are grouped by
bucket in the database, and latency percentiles are picked there by rank within each bucket (the
health report's nearest-rank rule), so only two rows per bucket come back."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import Ceil, RowNumber, TruncHour, TruncMinute
from django.utils import timezone

from planners.health.telemetry import FAILURE_OUTCOMES
from planners.models import PlannerExecution, PlannerOutcome


@dataclass(frozen=True)
class Range:
    key: str
    label: str
    span: timedelta
    step: timedelta

    @property
    def hours(self) -> int:
        return max(1, int(self.span.total_seconds() // 3600))

    def trunc(self) -> TruncMinute | TruncHour:
        return (
            TruncMinute("created_at") if self.step < timedelta(hours=1) else TruncHour("created_at")
        )


RANGES = {
    r.key: r
    for r in (
        Range("1h", "1 h", timedelta(hours=1), timedelta(minutes=1)),
        Range("24h", "24 h", timedelta(hours=24), timedelta(hours=1)),
        Range("7d", "7 d", timedelta(days=7), timedelta(hours=1)),
    )
}
DEFAULT_RANGE = "24h"


def pick_range(value: str | None) -> Range:
    """The range ``?range=`` names; an unknown value is the default, not an error."""
    return RANGES.get(value or "", RANGES[DEFAULT_RANGE])


@dataclass(frozen=True)
class ExecutionSeries:
    """Parallel lists, one entry per bucket, oldest first (what the chart library takes)."""

    range: Range
    times: list[int]  # bucket starts, seconds since the epoch (UTC)
    runs: list[int]
    failures: list[int]
    p50_ms: list[int | None]
    p95_ms: list[int | None]

    def as_chart(self) -> dict[str, Any]:
        return {
            "times": self.times,
            "runs": self.runs,
            "failures": self.failures,
            "p50": self.p50_ms,
            "p95": self.p95_ms,
        }

    @property
    def total_runs(self) -> int:
        return sum(self.runs)

    @property
    def total_failures(self) -> int:
        return sum(self.failures)


def _bucket_starts(chosen: Range, now: datetime) -> list[datetime]:
    step = chosen.step
    last = now.replace(second=0, microsecond=0)
    if step >= timedelta(hours=1):
        last = last.replace(minute=0)
    count = int(chosen.span / step)
    return [last - step * n for n in range(count - 1, -1, -1)]


def _window(since: datetime) -> QuerySet[PlannerExecution]:
    return PlannerExecution.objects.filter(created_at__gte=since, synthetic=False)


def _latency_ranks(chosen: Range, since: datetime) -> dict[datetime, dict[str, int]]:
    """p50 and p95 latency per bucket of the runs that got a reply (failed runs' 0 ms would
    drag them down), in one query: rows numbered by latency within their bucket, and only the
    two nearest-rank rows of each kept."""
    bucket = chosen.trunc()
    rows = (
        _window(since)
        .filter(latency_ms__gt=0)
        .annotate(
            bucket=bucket,
            rank=Window(RowNumber(), partition_by=[bucket], order_by=[F("latency_ms"), F("id")]),
            samples=Window(Count("id"), partition_by=[bucket]),
        )
        .filter(Q(rank=Ceil(F("samples") * 0.5)) | Q(rank=Ceil(F("samples") * 0.95)))
        .values_list("bucket", "rank", "samples", "latency_ms")
    )
    found: dict[datetime, dict[str, int]] = defaultdict(dict)
    for start, rank, samples, latency in rows:
        if rank == max(1, -(-samples // 2)):
            found[start]["p50"] = latency
        if rank == max(1, -(-samples * 95 // 100)):
            found[start]["p95"] = latency
    return found


def execution_series(chosen: Range, *, now: datetime | None = None) -> ExecutionSeries:
    """Runs, failures and latency p50/p95 per bucket of ``chosen``; two queries."""
    now = now or timezone.now()
    starts = _bucket_starts(chosen, now)
    counts = {
        row["bucket"]: row
        for row in _window(starts[0])
        .annotate(bucket=chosen.trunc())
        .values("bucket")
        .annotate(runs=Count("id"), failures=Count("id", filter=Q(outcome__in=FAILURE_OUTCOMES)))
        .order_by()
    }
    latency = _latency_ranks(chosen, starts[0])
    return ExecutionSeries(
        range=chosen,
        times=[int(start.timestamp()) for start in starts],
        runs=[counts.get(start, {}).get("runs", 0) for start in starts],
        failures=[counts.get(start, {}).get("failures", 0) for start in starts],
        p50_ms=[latency.get(start, {}).get("p50") for start in starts],
        p95_ms=[latency.get(start, {}).get("p95") for start in starts],
    )


SPARK_RANGE = RANGES["24h"]


def success_sparklines(*, now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Each planner's share of successful runs per hour over the last day (None for an hour
    without runs), with its totals; one query."""
    now = now or timezone.now()
    starts = _bucket_starts(SPARK_RANGE, now)
    rows = (
        _window(starts[0])
        .annotate(bucket=SPARK_RANGE.trunc())
        .values("planner_slug", "bucket")
        .annotate(runs=Count("id"), ok=Count("id", filter=Q(outcome=PlannerOutcome.SUCCESS)))
        .order_by()
    )
    by_planner: dict[str, dict[datetime, tuple[int, int]]] = defaultdict(dict)
    for row in rows:
        by_planner[row["planner_slug"]][row["bucket"]] = (row["runs"], row["ok"])
    lines = {}
    for slug, buckets in by_planner.items():
        runs = sum(n for n, _ in buckets.values())
        ok = sum(k for _, k in buckets.values())
        ratios = [round(buckets[s][1] / buckets[s][0], 3) if s in buckets else None for s in starts]
        lines[slug] = {
            "times": [int(s.timestamp()) for s in starts],
            "success": ratios,
            "runs": runs,
            "ok": ok,
        }
    return lines
