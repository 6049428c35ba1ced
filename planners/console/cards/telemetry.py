"""The execution telemetry card: the figures of real runs over the range an operator picked.

Latency percentiles come from the health report's query (``latency_percentiles``) and a
failure means what it means there (``FAILURE_OUTCOMES``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from planners.health.telemetry import latency_percentiles
from planners.health.telemetry_section import LatencySummary
from planners.models import PlannerExecution, PlannerOutcome


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


@dataclass
class Telemetry:
    window_hours: int
    runs: int
    by_outcome: dict[str, int]
    latency: LatencySummary
    prompt_tokens: int
    completion_tokens: int
    critique_tokens: int
    fallback_runs: int
    critique_status: dict[str, int]
    quota_breaches: dict[str, int]

    @property
    def p50_ms(self) -> int | None:
        return _ms(self.latency.p50_seconds)

    @property
    def p95_ms(self) -> int | None:
        return _ms(self.latency.p95_seconds)


def _counts_by(window: QuerySet[PlannerExecution], name: str) -> dict[str, int]:
    """Runs per non-empty value of ``name`` (one query)."""
    rows = window.exclude(**{name: ""}).values(name).annotate(n=Count("id")).order_by()
    return {row[name]: row["n"] for row in rows}


def execution_telemetry(now: datetime | None = None, *, hours: int = 24) -> Telemetry:
    """Runs in the last ``hours`` by outcome, latency percentiles, tokens, critique and quota
    status (five queries); the charts' series are ``series.execution_series``."""
    now = now or timezone.now()
    since = now - timedelta(hours=hours)
    window = PlannerExecution.objects.filter(created_at__gte=since, synthetic=False)
    by_outcome = _counts_by(window, "outcome")
    runs = sum(by_outcome.values())
    totals = window.aggregate(
        prompt=Coalesce(Sum("prompt_tokens"), 0),
        completion=Coalesce(Sum("completion_tokens"), 0),
        critique=Coalesce(Sum("critique_tokens"), 0),
        fallback=Count("id", filter=Q(used_fallback=True)),
    )
    return Telemetry(
        window_hours=hours,
        runs=runs,
        by_outcome={o: by_outcome.get(o, 0) for o in PlannerOutcome.values},
        latency=latency_percentiles(plan_id=None, since=since, samples=runs),
        prompt_tokens=totals["prompt"],
        completion_tokens=totals["completion"],
        critique_tokens=totals["critique"],
        fallback_runs=totals["fallback"],
        critique_status=_counts_by(window, "critique_status"),
        quota_breaches=_counts_by(window, "quota_limit"),
    )
