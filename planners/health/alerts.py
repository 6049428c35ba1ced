"""The alerts of design.md §4, derived from the report's sections (no queries here).

Each function returns the alerts for one concern so the rules can be read (and tested) one by
one; ``derive_alerts`` runs them all in a stable order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from planners.health.backlog import planner_slug_for_phase
from planners.health.report import (
    BacklogItemRef,
    BacklogSection,
    HealthAlert,
    PlannerState,
    Severity,
    TelemetrySection,
)

#: Critique statuses that mean the budget did not let the critic finish (planners.framework).
ALERTING_CRITIQUE_STATUSES = ("exhausted",)


@dataclass(frozen=True)
class AlertThresholds:
    stale_seconds: int
    failure_window_seconds: int
    flapping_transitions: int
    flapping_window_seconds: int
    drift_window_seconds: int


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{int(seconds)} s"


def _names(items: Iterable[str], total: int, *, limit: int = 5) -> str:
    """The first few names and how many more: alert text stays readable in a pager."""
    shown = list(items)[:limit]
    more = total - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def template_alerts(planners: Sequence[PlannerState]) -> list[HealthAlert]:
    alerts: list[HealthAlert] = []
    for planner in planners:
        for step in planner.steps:
            if not step.found:
                alerts.append(
                    HealthAlert(
                        id=f"template-missing:{planner.slug}:{step.id}",
                        severity=Severity.ERROR,
                        title=f"{planner.name}: template {step.template_id} is missing",
                        description=(
                            f"Step {step.id} of {planner.slug} has no prompt template "
                            f"{step.template_id}; runs use the built-in fallback prompt. "
                            "Run manage.py seed_planner_templates."
                        ),
                        planner=planner.slug,
                        template_id=step.template_id,
                    )
                )
            elif not step.active or step.empty:
                problem = "inactive" if not step.active else "empty (no active text)"
                alerts.append(
                    HealthAlert(
                        id=f"template-inactive:{planner.slug}:{step.id}",
                        severity=Severity.WARNING,
                        title=f"{planner.name}: template {step.template_id} is {problem}",
                        description=(
                            f"Step {step.id} of {planner.slug} cannot use {step.template_id} "
                            f"({problem}); runs use the built-in fallback prompt."
                        ),
                        planner=planner.slug,
                        template_id=step.template_id,
                    )
                )
        if planner.fallback_in_use:
            alerts.append(
                HealthAlert(
                    id=f"template-fallback:{planner.slug}",
                    severity=Severity.WARNING,
                    title=f"{planner.name} ran on its fallback prompt",
                    description=(
                        f"{planner.fallback_runs_in_window} of {planner.runs_in_window} recent "
                        f"runs of {planner.slug} used the built-in fallback prompt instead of "
                        "the template."
                    ),
                    planner=planner.slug,
                )
            )
    return alerts


def _synthetic_stale_alerts(
    items: Sequence[BacklogItemRef], stale_seconds: int
) -> list[HealthAlert]:
    """One synthetic ``backlog:stale`` per planner, so each planner's drill can be acked apart."""
    by_planner: dict[str, list[BacklogItemRef]] = {}
    for item in items:
        by_planner.setdefault(planner_slug_for_phase(item.phase), []).append(item)
    return [
        HealthAlert(
            id="backlog:stale",
            severity=Severity.WARNING,
            title=f"Synthetic stale backlog item for {slug}",
            description=(
                f"Synthetic alert drill: {entries[0].backlog_id} of plan {entries[0].plan_id} "
                f"has been in progress longer than {_duration(stale_seconds)}. "
                "It is not real work and is kept out of the backlog counts."
            ),
            planner=slug,
            plan_id=entries[0].plan_id,
            backlog_id=entries[0].backlog_id,
            synthetic=True,
        )
        for slug, entries in sorted(by_planner.items())
    ]


def backlog_alerts(backlog: BacklogSection, thresholds: AlertThresholds) -> list[HealthAlert]:
    alerts: list[HealthAlert] = []
    if backlog.stale_total:
        single = backlog.stale[0] if backlog.stale_total == 1 and backlog.stale else None
        alerts.append(
            HealthAlert(
                id="backlog:stale",
                severity=Severity.WARNING,
                title=f"{backlog.stale_total} backlog item(s) stuck in progress",
                description=(
                    f"In progress for more than {_duration(thresholds.stale_seconds)}: "
                    + _names(
                        (f"{i.backlog_id} (plan {i.plan_id})" for i in backlog.stale),
                        backlog.stale_total,
                    )
                    + ". Check the worker, then resume them."
                ),
                planner=planner_slug_for_phase(single.phase) if single else "",
                plan_id=single.plan_id if single else None,
                backlog_id=single.backlog_id if single else "",
            )
        )
    alerts.extend(_synthetic_stale_alerts(backlog.stale_synthetic, thresholds.stale_seconds))
    if backlog.orphaned_total:
        alerts.append(
            HealthAlert(
                id="backlog:orphaned",
                severity=Severity.WARNING,
                title=f"{backlog.orphaned_total} backlog item(s) cannot be resolved",
                description=(
                    "Their plan is missing or an input token is produced by no item: "
                    + _names(
                        (
                            f"{i.backlog_id} (plan {i.plan_id}"
                            + (
                                f", needs {', '.join(i.missing_inputs)})"
                                if i.missing_inputs
                                else ", plan missing)"
                            )
                            for i in backlog.orphaned
                        ),
                        backlog.orphaned_total,
                    )
                    + "."
                ),
            )
        )
    for flap in backlog.flapping:
        alerts.append(
            HealthAlert(
                id=f"backlog:flapping:{flap.plan_id}:{flap.backlog_id}",
                severity=Severity.WARNING,
                title=f"{flap.backlog_id} keeps going back to pending",
                description=(
                    f"{flap.backlog_id} of plan {flap.plan_id} went back to pending "
                    f"{flap.returns_to_pending} times within "
                    f"{_duration(thresholds.flapping_window_seconds)} (threshold "
                    f"{thresholds.flapping_transitions})."
                ),
                plan_id=flap.plan_id,
                backlog_id=flap.backlog_id,
            )
        )
    if backlog.contract_drift_total:
        drift = backlog.contract_drift_total
        latest = backlog.contract_drift[0] if backlog.contract_drift else None
        alerts.append(
            HealthAlert(
                id="backlog:contract-drift",
                severity=Severity.ERROR if drift >= 2 else Severity.WARNING,
                title=f"{drift} resume request(s) contradicted the item's task",
                description=(
                    f"{drift} contract-drift event(s) within "
                    f"{_duration(thresholds.drift_window_seconds)}"
                    + (
                        f"; latest on {latest.backlog_id} (plan {latest.plan_id}) by "
                        f"{latest.actor or 'unknown'}: requested {dict(latest.requested)}, "
                        f"recorded {dict(latest.recorded)}"
                        if latest
                        else ""
                    )
                    + "."
                ),
                planner=(
                    backlog.contract_drift[0].planner
                    if len({e.planner for e in backlog.contract_drift}) == 1
                    else ""
                ),
                plan_id=latest.plan_id if latest and drift == 1 else None,
                backlog_id=latest.backlog_id if latest and drift == 1 else "",
            )
        )
    for finding in backlog.findings:
        alerts.append(
            HealthAlert(
                id=finding.alert_id,
                severity=Severity(finding.severity),
                title=finding.title,
                description=finding.description,
                plan_id=finding.plan_id,
            )
        )
    return alerts


def telemetry_alerts(telemetry: TelemetrySection, thresholds: AlertThresholds) -> list[HealthAlert]:
    alerts: list[HealthAlert] = []
    if telemetry.executions_total == 0:
        alerts.append(
            HealthAlert(
                id="planner:no-executions",
                severity=Severity.INFO,
                title="No planner has run yet",
                description="No planner execution is recorded; start a plan to see telemetry.",
            )
        )
    if telemetry.recent_failures_total:
        planners = sorted({f.planner for f in telemetry.recent_failures})
        latest = telemetry.recent_failures[0] if telemetry.recent_failures else None
        alerts.append(
            HealthAlert(
                id="planner:recent-failures",
                severity=Severity.ERROR,
                title=f"{telemetry.recent_failures_total} planner run(s) failed recently",
                description=(
                    f"{telemetry.recent_failures_total} failed run(s) within "
                    f"{_duration(thresholds.failure_window_seconds)} ({', '.join(planners)})"
                    + (f"; latest: {latest.transcript_snippet or latest.error}" if latest else "")
                ),
                planner=planners[0] if len(planners) == 1 else "",
            )
        )
    exhausted: dict[str, list[tuple[str, int]]] = {}
    for entry in telemetry.critique:
        if entry.status in ALERTING_CRITIQUE_STATUSES:
            exhausted.setdefault(entry.status, []).append((entry.planner, entry.count))
    for status, entries in sorted(exhausted.items()):
        alerts.append(
            HealthAlert(
                id=f"planner:critique:{status}",
                severity=Severity.WARNING,
                title=f"Critique budgets {status}",
                description=(
                    f"Runs whose critique ended {status} within "
                    f"{_duration(thresholds.failure_window_seconds)}: "
                    + ", ".join(f"{slug} x{count}" for slug, count in entries)
                    + ". Consider raising PLANNER_CRITIQUE or tuning the model."
                ),
                planner=entries[0][0] if len(entries) == 1 else "",
            )
        )
    by_limit: dict[str, list[str]] = {}
    planners_by_limit: dict[str, set[str]] = {}
    for breach in telemetry.quota_breaches:
        by_limit.setdefault(breach.limit, []).append(
            f"{breach.planner} {breach.outcome} x{breach.count}"
        )
        planners_by_limit.setdefault(breach.limit, set()).add(breach.planner)
    for limit, lines in sorted(by_limit.items()):
        limit_planners = sorted(planners_by_limit[limit])
        alerts.append(
            HealthAlert(
                id=f"planner:quota:{limit}",
                severity=Severity.WARNING,
                title=f"Runs stopped by the {limit} quota",
                description=(
                    f"Within {_duration(thresholds.failure_window_seconds)}: "
                    + ", ".join(lines)
                    + ". See PLANNER_QUOTAS."
                ),
                planner=limit_planners[0] if len(limit_planners) == 1 else "",
            )
        )
    return alerts


def derive_alerts(
    planners: Sequence[PlannerState],
    backlog: BacklogSection,
    telemetry: TelemetrySection,
    thresholds: AlertThresholds,
) -> tuple[HealthAlert, ...]:
    return (
        *template_alerts(planners),
        *backlog_alerts(backlog, thresholds),
        *telemetry_alerts(telemetry, thresholds),
    )
