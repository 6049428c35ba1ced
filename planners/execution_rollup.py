"""Running totals of planner runs, so the health report's all-time figures do not cost a scan of
every run ever recorded.

``PlannerExecution`` rows are history: written once, never changed. Every few minutes the beat
runs ``roll_up_executions``, which adds the runs created since the last mark (and before
``now - settle``) to ``ExecutionRollup`` and moves the mark, in one transaction. The report reads
the rollup and only the runs after the mark, in one statement, so the two always agree.

Why the settle period: a run is stamped when it is inserted, but only visible once its
transaction commits. Waiting twice the phase time limit before rolling a run up means a run
committed late (a slow phase's transaction) is still after the mark when it becomes visible, so
it is never skipped and never counted twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from planners.models import ExecutionRollup, ExecutionRollupMark, PlannerExecution

logger = logging.getLogger(__name__)

GROUP_FIELDS = (
    "plan_id",
    "planner_slug",
    "template_id",
    "outcome",
    "critique_status",
    "quota_limit",
)
SUM_FIELDS = ("prompt_tokens", "completion_tokens", "critique_tokens")

GroupKey = tuple[int | None, str, str, str, str, str]


def settle_period() -> timedelta:
    """How old a run must be before it is rolled up: twice the phase time limit."""
    return timedelta(seconds=2 * settings.PIPELINE_PHASE_TIME_LIMIT_SECONDS)


def roll_up_executions(*, now: datetime | None = None) -> int:
    """Add the settled runs since the mark to the totals and move the mark; returns how many
    runs were added. Safe to run concurrently (the mark row is locked) and to repeat."""
    target = (now or timezone.now()) - settle_period()
    with transaction.atomic():
        mark, _ = ExecutionRollupMark.objects.select_for_update().get_or_create(pk=1)
        start = mark.rolled_up_before
        if start is not None and target <= start:
            return 0
        runs = PlannerExecution.objects.filter(synthetic=False, created_at__lt=target)
        if start is not None:
            runs = runs.filter(created_at__gte=start)
        added = _add_to_totals(runs.values(*GROUP_FIELDS))
        mark.rolled_up_before = target
        mark.save(update_fields=["rolled_up_before", "updated_at"])
    if added:
        logger.info("rolled up %s planner run(s) created before %s", added, target.isoformat())
    return added


def _add_to_totals(grouped_runs: QuerySet[PlannerExecution, dict[str, Any]]) -> int:
    """Sum ``grouped_runs`` per group into the rollup rows (updated or created); returns the
    number of runs added."""
    rows = list(
        grouped_runs.annotate(
            runs=Count("id"), **{field: Coalesce(Sum(field), 0) for field in SUM_FIELDS}
        ).order_by()
    )
    if not rows:
        return 0
    plan_ids = {row["plan_id"] for row in rows}
    same_plans = Q(plan_id__in=[plan_id for plan_id in plan_ids if plan_id is not None])
    if None in plan_ids:
        same_plans |= Q(plan_id__isnull=True)
    totals = {_key(vars(total)): total for total in ExecutionRollup.objects.filter(same_plans)}
    existing = set(totals)
    for row in rows:
        key = _key(row)
        total = totals.get(key)
        if total is None:
            total = totals[key] = ExecutionRollup(**dict(zip(GROUP_FIELDS, key, strict=True)))
        total.runs += row["runs"]
        for field in SUM_FIELDS:
            setattr(total, field, getattr(total, field) + row[field])
    touched = {_key(row) for row in rows}
    ExecutionRollup.objects.bulk_update(
        [totals[key] for key in touched & existing], ["runs", *SUM_FIELDS], batch_size=500
    )
    ExecutionRollup.objects.bulk_create([totals[key] for key in touched - existing], batch_size=500)
    return sum(row["runs"] for row in rows)


def _key(row: dict[str, Any]) -> GroupKey:
    plan_id = row["plan_id"]
    return (
        plan_id if isinstance(plan_id, int) else None,
        str(row["planner_slug"]),
        str(row["template_id"] or ""),
        str(row["outcome"]),
        str(row["critique_status"] or ""),
        str(row["quota_limit"] or ""),
    )
