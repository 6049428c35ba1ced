"""Findings of the backlog section beyond its counts: contract-drift events within the window,
and what each registered pipeline reports of its own records. A fixed number of queries each."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Window

from planners.health.backlog import planner_slug_for_phase
from planners.health.report import DriftEvent, PipelineFinding
from planners.models import ContractDriftEvent
from planners.pipeline.registry import pipelines

DRIFT_LIMIT = 10


def pipeline_findings(*, plan_id: int | None) -> tuple[PipelineFinding, ...]:
    """What each registered pipeline reports of its own records (``health_findings``)."""
    return tuple(
        PipelineFinding(
            pipeline=pipeline.slug,
            alert_id=finding.alert_id,
            severity=finding.severity,
            title=finding.title,
            description=finding.description,
            plan_id=finding.plan_id,
        )
        for pipeline in pipelines.all()
        if pipeline.health_findings is not None
        for finding in pipeline.health_findings(plan_id)
    )


def contract_drift(*, plan_id: int | None, since: datetime) -> tuple[int, tuple[DriftEvent, ...]]:
    """Contract-drift events within the window: (total, most recent) in one query."""
    events = ContractDriftEvent.objects.filter(created_at__gte=since)
    if plan_id is not None:
        events = events.filter(plan_id=plan_id)
    rows = list(
        events.annotate(total=Window(expression=Count("id")))
        .order_by("-created_at", "-id")
        .values(
            "created_at",
            "plan_id",
            "item__backlog_id",
            "item__phase",
            "actor",
            "requested",
            "recorded",
            "total",
        )[:DRIFT_LIMIT]
    )
    drift = tuple(
        DriftEvent(
            at=row["created_at"],
            plan_id=row["plan_id"],
            backlog_id=row["item__backlog_id"],
            planner=planner_slug_for_phase(row["item__phase"]),
            actor=row["actor"],
            requested=row["requested"] or {},
            recorded=row["recorded"] or {},
        )
        for row in rows
    )
    return (rows[0]["total"] if rows else 0), drift
