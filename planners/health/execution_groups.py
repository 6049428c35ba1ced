"""The runs grouped once for the whole report: ``execution_groups`` reads, in one statement,
the rolled-up totals plus the runs after the roll-up mark, per planner, template, outcome,
critique status and quota limit. The counts, token totals, critique statuses, quota breaches and
the planners section are all summed from those groups, with no further query. Synthetic runs
are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Count, DateTimeField, F, Max, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from planners.health.telemetry_section import CritiqueCount, QuotaBreachCount, TokenTotals
from planners.models import ExecutionRollup, ExecutionRollupMark, PlannerExecution, PlannerOutcome

QUOTA_OUTCOMES = (PlannerOutcome.THROTTLED, PlannerOutcome.REJECTED)


def real_executions(plan_id: int | None) -> QuerySet[PlannerExecution]:
    runs = PlannerExecution.objects.filter(synthetic=False)
    return runs if plan_id is None else runs.filter(plan_id=plan_id)


@dataclass(frozen=True)
class ExecutionGroup:
    """Runs sharing planner, template, outcome, critique status and quota limit: all-time and
    in-window counts and token sums. Every per-planner figure of the report is a sum of these."""

    planner_slug: str
    template_id: str
    outcome: str
    critique_status: str
    quota_limit: str
    total: int
    recent: int
    recent_fallback: int
    recent_last_at: datetime | None
    prompt_tokens: int
    completion_tokens: int
    critique_tokens: int


_GROUP_FIELDS = ("planner_slug", "template_id", "outcome", "critique_status", "quota_limit")


_TOTALS_ONLY = {
    "total": Count("id"),
    "recent": Value(0),
    "recent_fallback": Value(0),
    "recent_last_at": Value(None, output_field=DateTimeField()),
}
#: Before any roll-up, the mark is "the beginning of time": every run is read from the table.
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def execution_groups(*, plan_id: int | None, since: datetime) -> list[ExecutionGroup]:
    """One statement over three parts, each bounded by the catalog or by the window, not by the
    number of runs ever recorded:

    - the window's runs (``since`` is a constant, so the ``created_at`` index serves it): the
      recent figures, and the all-time figures of those after the roll-up mark;
    - runs between the mark and the window, when the roll-up is behind the window (a beat
      that has not run for a while, or a fresh install): PostgreSQL checks that condition
      once and skips the scan when it is false, which is the steady state;
    - the rolled-up totals (``planners.execution_rollup``).

    The same group can come back more than once; every consumer sums groups.
    """
    mark = Coalesce(
        Subquery(ExecutionRollupMark.objects.values("rolled_up_before")[:1]),
        Value(_NEVER),
        output_field=DateTimeField(),
    )
    window = _window_groups(plan_id, since, mark)
    behind = _behind_groups(plan_id, since, mark)
    return [
        _execution_group(row) for row in window.union(behind, _rolled_up_groups(plan_id), all=True)
    ]


def _window_groups(
    plan_id: int | None, since: datetime, mark: Coalesce
) -> QuerySet[PlannerExecution, dict[str, Any]]:
    """The window's runs: recent figures, and all-time figures of those after the mark."""
    after_mark = Q(created_at__gte=mark)
    return (
        real_executions(plan_id)
        .filter(created_at__gte=since)
        .values(*_GROUP_FIELDS)
        .annotate(
            total=Count("id", filter=after_mark),
            recent=Count("id"),
            recent_fallback=Count("id", filter=Q(used_fallback=True)),
            recent_last_at=Max("created_at"),
            prompt=Coalesce(Sum("prompt_tokens", filter=after_mark), 0),
            completion=Coalesce(Sum("completion_tokens", filter=after_mark), 0),
            critique=Coalesce(Sum("critique_tokens", filter=after_mark), 0),
        )
        .order_by()
    )


def _behind_groups(
    plan_id: int | None, since: datetime, mark: Coalesce
) -> QuerySet[PlannerExecution, dict[str, Any]]:
    """Runs between the mark and the window, read only while the roll-up is behind it."""
    return (
        real_executions(plan_id)
        .alias(mark=mark)
        .filter(mark__lt=since, created_at__gte=F("mark"), created_at__lt=since)
        .values(*_GROUP_FIELDS)
        .annotate(
            **_TOTALS_ONLY,
            prompt=Coalesce(Sum("prompt_tokens"), 0),
            completion=Coalesce(Sum("completion_tokens"), 0),
            critique=Coalesce(Sum("critique_tokens"), 0),
        )
        .order_by()
    )


def _rolled_up_groups(plan_id: int | None) -> QuerySet[ExecutionRollup, dict[str, Any]]:
    rolled_up = ExecutionRollup.objects.all()
    if plan_id is not None:
        rolled_up = rolled_up.filter(plan_id=plan_id)
    return (
        rolled_up.values(*_GROUP_FIELDS)
        .annotate(
            **{**_TOTALS_ONLY, "total": Sum("runs")},
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            critique=Sum("critique_tokens"),
        )
        .order_by()
    )


def _execution_group(row: Mapping[str, Any]) -> ExecutionGroup:
    return ExecutionGroup(
        planner_slug=row["planner_slug"],
        template_id=row["template_id"] or "",
        outcome=row["outcome"],
        critique_status=row["critique_status"] or "",
        quota_limit=row["quota_limit"] or "",
        total=row["total"],
        recent=row["recent"],
        recent_fallback=row["recent_fallback"],
        recent_last_at=row["recent_last_at"],
        prompt_tokens=row["prompt"],
        completion_tokens=row["completion"],
        critique_tokens=row["critique"],
    )


def execution_totals(groups: list[ExecutionGroup]) -> dict[str, Any]:
    """Counts per outcome (all time and within the window) and token totals (no query)."""
    by_outcome = dict.fromkeys(PlannerOutcome.values, 0)
    recent_by_outcome = dict.fromkeys(PlannerOutcome.values, 0)
    prompt = completion = critique = 0
    for group in groups:
        if group.outcome in by_outcome:
            by_outcome[group.outcome] += group.total
            recent_by_outcome[group.outcome] += group.recent
        prompt += group.prompt_tokens
        completion += group.completion_tokens
        critique += group.critique_tokens
    return {
        "total": sum(g.total for g in groups),
        "recent": sum(g.recent for g in groups),
        "by_outcome": by_outcome,
        "recent_by_outcome": recent_by_outcome,
        "tokens": TokenTotals(prompt=prompt, completion=completion, critique=critique),
    }


def critique_counts(groups: list[ExecutionGroup]) -> tuple[CritiqueCount, ...]:
    """Runs in the window per planner and critique status (no query)."""
    counts: dict[tuple[str, str], int] = {}
    for group in groups:
        if group.recent and group.critique_status:
            key = (group.planner_slug, group.critique_status)
            counts[key] = counts.get(key, 0) + group.recent
    return tuple(
        CritiqueCount(planner=planner, status=status, count=count)
        for (planner, status), count in sorted(counts.items())
    )


def quota_breaches(groups: list[ExecutionGroup]) -> tuple[QuotaBreachCount, ...]:
    """Throttled and rejected runs in the window per planner, quota and outcome (no query)."""
    breaches: dict[tuple[str, str, str], tuple[int, datetime | None]] = {}
    for group in groups:
        if not group.recent or group.outcome not in QUOTA_OUTCOMES:
            continue
        key = (group.planner_slug, group.quota_limit, group.outcome)
        count, last_at = breaches.get(key, (0, None))
        if group.recent_last_at is not None and (last_at is None or group.recent_last_at > last_at):
            last_at = group.recent_last_at
        breaches[key] = (count + group.recent, last_at)
    return tuple(
        QuotaBreachCount(
            planner=planner,
            limit=limit or "unknown",
            outcome=outcome,
            count=count,
            last_at=last_at,
        )
        for (planner, limit, outcome), (count, last_at) in sorted(breaches.items())
    )
