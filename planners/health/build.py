"""``build_health_report``: the one function that computes the planner health report.

It only reads: a constant number of aggregate queries whatever the number of plans, items and
executions, so ops alerting can evaluate it every minute and the API can serve it on demand.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from cognition.liveness import current_liveness
from planners.health import backlog as backlog_queries
from planners.health import execution_groups as grouped_runs
from planners.health import findings as finding_queries
from planners.health import telemetry as telemetry_queries
from planners.health.alert_rules import AlertThresholds
from planners.health.alert_sources import alerts_from_sources
from planners.health.alerts import derive_alerts
from planners.health.orphans import orphaned_items
from planners.health.planners import catalog_planners, planner_states
from planners.health.report import BacklogSection, PlannerHealthReport, overall_status
from planners.health.telemetry_section import TelemetrySection
from planners.models import Plan

logger = logging.getLogger(__name__)


class UnknownPlanError(LookupError):
    """``plan_id`` names no plan."""

    def __init__(self, plan_id: int) -> None:
        super().__init__(f"No plan with id {plan_id}.")
        self.plan_id = plan_id


def current_thresholds() -> AlertThresholds:
    return AlertThresholds(
        stale_seconds=settings.HEALTH_STALE_BACKLOG_SECONDS,
        failure_window_seconds=settings.HEALTH_FAILURE_WINDOW_SECONDS,
        flapping_transitions=settings.HEALTH_FLAPPING_TRANSITIONS,
        flapping_window_seconds=settings.HEALTH_FLAPPING_WINDOW_SECONDS,
        drift_window_seconds=settings.HEALTH_CONTRACT_DRIFT_WINDOW_SECONDS,
    )


def _build_backlog(
    *, plan_id: int | None, now: datetime, thresholds: AlertThresholds
) -> BacklogSection:
    start = backlog_queries.window_start
    stale_cutoff = start(now, thresholds.stale_seconds)
    stale = backlog_queries.stale_items(plan_id=plan_id, cutoff=stale_cutoff, now=now)
    counts = backlog_queries.backlog_counts(plan_id=plan_id)
    plans_total, plans = backlog_queries.plan_summaries(plan_id=plan_id)
    orphaned_total, orphaned = orphaned_items(plan_id=plan_id, limit=backlog_queries.ITEM_LIMIT)
    drift_total, drift = finding_queries.contract_drift(
        plan_id=plan_id, since=start(now, thresholds.drift_window_seconds)
    )
    return BacklogSection(
        counts=counts.counts,
        total=counts.total,
        synthetic_total=counts.synthetic_total,
        plans_total=plans_total,
        plans=plans,
        stale_total=stale.real_total,
        stale=stale.real,
        stale_synthetic=stale.synthetic,
        orphaned_total=orphaned_total,
        orphaned=orphaned,
        flapping=backlog_queries.flapping_items(
            plan_id=plan_id,
            since=start(now, thresholds.flapping_window_seconds),
            threshold=thresholds.flapping_transitions,
        ),
        findings=finding_queries.pipeline_findings(plan_id=plan_id),
        contract_drift_total=drift_total,
        contract_drift=drift,
        recent_transitions=backlog_queries.recent_transitions(plan_id=plan_id),
        action_log=backlog_queries.action_log(),
    )


def _build_telemetry(
    *,
    plan_id: int | None,
    now: datetime,
    thresholds: AlertThresholds,
    groups: list[grouped_runs.ExecutionGroup],
) -> TelemetrySection:
    since = backlog_queries.window_start(now, thresholds.failure_window_seconds)
    totals = grouped_runs.execution_totals(groups)
    failures_total, failures = telemetry_queries.recent_failures(plan_id=plan_id, since=since)
    critique = grouped_runs.critique_counts(groups)
    critique_status_counts: dict[str, int] = {}
    for entry in critique:
        critique_status_counts[entry.status] = critique_status_counts.get(entry.status, 0) + (
            entry.count
        )
    return TelemetrySection(
        window_seconds=thresholds.failure_window_seconds,
        executions_total=totals["total"],
        executions_by_outcome=totals["by_outcome"],
        executions_in_window=totals["recent"],
        executions_in_window_by_outcome=totals["recent_by_outcome"],
        last_execution=telemetry_queries.last_execution(plan_id=plan_id),
        recent_failures_total=failures_total,
        recent_failures=failures,
        latency=telemetry_queries.latency_percentiles(
            plan_id=plan_id, since=since, samples=totals["recent"]
        ),
        tokens=totals["tokens"],
        critique_status_counts=critique_status_counts,
        critique=critique,
        quota_breaches=grouped_runs.quota_breaches(groups),
    )


def _warnings(report_planners: int, unregistered: list[str], backlog: BacklogSection) -> list[str]:
    warnings: list[str] = []
    if report_planners == 0:
        warnings.append("No planner is registered in the catalog.")
    if unregistered:
        warnings.append(
            "Recent runs of planners that are not registered: " + ", ".join(unregistered) + "."
        )
    if backlog.stale_total > len(backlog.stale):
        warnings.append(f"Showing {len(backlog.stale)} of {backlog.stale_total} stale items.")
    if backlog.orphaned_total > len(backlog.orphaned):
        warnings.append(
            f"Showing {len(backlog.orphaned)} of {backlog.orphaned_total} orphaned items."
        )
    if backlog.plans_total > len(backlog.plans):
        warnings.append(
            f"Showing the {len(backlog.plans)} most recently updated of "
            f"{backlog.plans_total} plans."
        )
    if len(backlog.flapping) >= backlog_queries.FLAPPING_LIMIT:
        warnings.append(f"Showing the first {len(backlog.flapping)} flapping items only.")
    return warnings


def build_health_report(
    *, plan_id: int | None = None, now: datetime | None = None
) -> PlannerHealthReport:
    """Compute the planner health report (design.md §4), optionally for one plan.

    Raises ``UnknownPlanError`` when ``plan_id`` names no plan. ``now`` pins the clock so
    windows and ages are reproducible (tests, and evaluations that must agree on one instant).
    """
    now = now or timezone.now()
    if plan_id is not None and not Plan.objects.filter(pk=plan_id).exists():
        raise UnknownPlanError(plan_id)
    thresholds = current_thresholds()
    catalog = catalog_planners()
    groups = grouped_runs.execution_groups(
        plan_id=plan_id,
        since=backlog_queries.window_start(now, thresholds.failure_window_seconds),
    )
    planners, unregistered = planner_states(catalog, groups=groups)
    backlog = _build_backlog(plan_id=plan_id, now=now, thresholds=thresholds)
    telemetry = _build_telemetry(plan_id=plan_id, now=now, thresholds=thresholds, groups=groups)
    liveness = current_liveness(now)
    alerts = derive_alerts(planners, backlog, telemetry, thresholds, liveness) + tuple(
        alerts_from_sources(now)
    )
    status = overall_status(alerts)
    logger.debug("planner health %s with %s alert(s)", status, len(alerts))
    return PlannerHealthReport(
        generated_at=now,
        status=status,
        environment=settings.DEPLOY_ENVIRONMENT,
        plan_id=plan_id,
        thresholds={
            "stale_backlog_seconds": thresholds.stale_seconds,
            "failure_window_seconds": thresholds.failure_window_seconds,
            "flapping_transitions": thresholds.flapping_transitions,
            "flapping_window_seconds": thresholds.flapping_window_seconds,
            "contract_drift_window_seconds": thresholds.drift_window_seconds,
        },
        planners=planners,
        backlog=backlog,
        telemetry=telemetry,
        liveness=liveness,
        alerts=alerts,
        warnings=tuple(_warnings(len(catalog), unregistered, backlog)),
    )
