"""Telemetry rules: nothing has run, recent failures, exhausted critique budgets, quotas."""

from __future__ import annotations

from planners.health.alert_rules import AlertFacts, alert_rule, duration
from planners.health.report import HealthAlert, Severity

#: Critique statuses that mean the budget did not let the critic finish (planners.framework).
ALERTING_CRITIQUE_STATUSES = ("exhausted",)


@alert_rule("telemetry")
def no_executions(facts: AlertFacts) -> list[HealthAlert]:
    if facts.telemetry.executions_total:
        return []
    return [
        HealthAlert(
            id="planner:no-executions",
            severity=Severity.INFO,
            title="No planner has run yet",
            description="No planner execution is recorded; start a plan to see telemetry.",
        )
    ]


@alert_rule("telemetry")
def recent_failures(facts: AlertFacts) -> list[HealthAlert]:
    telemetry = facts.telemetry
    if not telemetry.recent_failures_total:
        return []
    planners = sorted({f.planner for f in telemetry.recent_failures})
    latest = telemetry.recent_failures[0] if telemetry.recent_failures else None
    return [
        HealthAlert(
            id="planner:recent-failures",
            severity=Severity.ERROR,
            title=f"{telemetry.recent_failures_total} planner run(s) failed recently",
            description=(
                f"{telemetry.recent_failures_total} failed run(s) within "
                f"{duration(facts.thresholds.failure_window_seconds)} ({', '.join(planners)})"
                + (f"; latest: {latest.transcript_snippet or latest.error}" if latest else "")
            ),
            planner=planners[0] if len(planners) == 1 else "",
        )
    ]


@alert_rule("telemetry")
def exhausted_critiques(facts: AlertFacts) -> list[HealthAlert]:
    exhausted: dict[str, list[tuple[str, int]]] = {}
    for entry in facts.telemetry.critique:
        if entry.status in ALERTING_CRITIQUE_STATUSES:
            exhausted.setdefault(entry.status, []).append((entry.planner, entry.count))
    return [
        HealthAlert(
            id=f"planner:critique:{status}",
            severity=Severity.WARNING,
            title=f"Critique budgets {status}",
            description=(
                f"Runs whose critique ended {status} within "
                f"{duration(facts.thresholds.failure_window_seconds)}: "
                + ", ".join(f"{slug} x{count}" for slug, count in entries)
                + ". Consider raising PLANNER_CRITIQUE or tuning the model."
            ),
            planner=entries[0][0] if len(entries) == 1 else "",
        )
        for status, entries in sorted(exhausted.items())
    ]


@alert_rule("telemetry")
def quota_breaches(facts: AlertFacts) -> list[HealthAlert]:
    by_limit: dict[str, list[str]] = {}
    planners_by_limit: dict[str, set[str]] = {}
    for breach in facts.telemetry.quota_breaches:
        by_limit.setdefault(breach.limit, []).append(
            f"{breach.planner} {breach.outcome} x{breach.count}"
        )
        planners_by_limit.setdefault(breach.limit, set()).add(breach.planner)
    alerts: list[HealthAlert] = []
    for limit, lines in sorted(by_limit.items()):
        limit_planners = sorted(planners_by_limit[limit])
        alerts.append(
            HealthAlert(
                id=f"planner:quota:{limit}",
                severity=Severity.WARNING,
                title=f"Runs stopped by the {limit} quota",
                description=(
                    f"Within {duration(facts.thresholds.failure_window_seconds)}: "
                    + ", ".join(lines)
                    + ". See PLANNER_QUOTAS."
                ),
                planner=limit_planners[0] if len(limit_planners) == 1 else "",
            )
        )
    return alerts
