"""Backlog rules: stale, synthetic stale, orphaned, flapping, contract drift, and the findings
the backlog queries raise themselves (e.g. ``lore:blocked``)."""

from __future__ import annotations

from planners.health.alert_rules import AlertFacts, alert_rule, duration, names
from planners.health.backlog import planner_slug_for_phase
from planners.health.report import BacklogItemRef, HealthAlert, Severity


@alert_rule("backlog")
def stale_items(facts: AlertFacts) -> list[HealthAlert]:
    backlog = facts.backlog
    if not backlog.stale_total:
        return []
    single = backlog.stale[0] if backlog.stale_total == 1 and backlog.stale else None
    return [
        HealthAlert(
            id="backlog:stale",
            severity=Severity.WARNING,
            title=f"{backlog.stale_total} backlog item(s) stuck in progress",
            description=(
                f"In progress for more than {duration(facts.thresholds.stale_seconds)}: "
                + names(
                    (f"{i.backlog_id} (plan {i.plan_id})" for i in backlog.stale),
                    backlog.stale_total,
                )
                + ". Check the worker, then resume them."
            ),
            planner=planner_slug_for_phase(single.phase) if single else "",
            plan_id=single.plan_id if single else None,
            backlog_id=single.backlog_id if single else "",
        )
    ]


@alert_rule("backlog")
def synthetic_stale_items(facts: AlertFacts) -> list[HealthAlert]:
    """One synthetic ``backlog:stale`` per planner, so each planner's drill can be acked apart."""
    by_planner: dict[str, list[BacklogItemRef]] = {}
    for item in facts.backlog.stale_synthetic:
        by_planner.setdefault(planner_slug_for_phase(item.phase), []).append(item)
    return [
        HealthAlert(
            id="backlog:stale",
            severity=Severity.WARNING,
            title=f"Synthetic stale backlog item for {slug}",
            description=(
                f"Synthetic alert drill: {entries[0].backlog_id} of plan {entries[0].plan_id} "
                f"has been in progress longer than {duration(facts.thresholds.stale_seconds)}. "
                "It is not real work and is kept out of the backlog counts."
            ),
            planner=slug,
            plan_id=entries[0].plan_id,
            backlog_id=entries[0].backlog_id,
            synthetic=True,
        )
        for slug, entries in sorted(by_planner.items())
    ]


@alert_rule("backlog")
def orphaned_items(facts: AlertFacts) -> list[HealthAlert]:
    backlog = facts.backlog
    if not backlog.orphaned_total:
        return []
    return [
        HealthAlert(
            id="backlog:orphaned",
            severity=Severity.WARNING,
            title=f"{backlog.orphaned_total} backlog item(s) cannot be resolved",
            description=(
                "Their plan is missing or an input token is produced by no item: "
                + names(map(_orphan_label, backlog.orphaned), backlog.orphaned_total)
                + "."
            ),
        )
    ]


def _orphan_label(item: BacklogItemRef) -> str:
    why = f", needs {', '.join(item.missing_inputs)})" if item.missing_inputs else ", plan missing)"
    return f"{item.backlog_id} (plan {item.plan_id}" + why


@alert_rule("backlog")
def flapping_items(facts: AlertFacts) -> list[HealthAlert]:
    thresholds = facts.thresholds
    return [
        HealthAlert(
            id=f"backlog:flapping:{flap.plan_id}:{flap.backlog_id}",
            severity=Severity.WARNING,
            title=f"{flap.backlog_id} keeps going back to pending",
            description=(
                f"{flap.backlog_id} of plan {flap.plan_id} went back to pending "
                f"{flap.returns_to_pending} times within "
                f"{duration(thresholds.flapping_window_seconds)} (threshold "
                f"{thresholds.flapping_transitions})."
            ),
            plan_id=flap.plan_id,
            backlog_id=flap.backlog_id,
        )
        for flap in facts.backlog.flapping
    ]


@alert_rule("backlog")
def contract_drift(facts: AlertFacts) -> list[HealthAlert]:
    backlog = facts.backlog
    drift = backlog.contract_drift_total
    if not drift:
        return []
    latest = backlog.contract_drift[0] if backlog.contract_drift else None
    return [
        HealthAlert(
            id="backlog:contract-drift",
            severity=Severity.ERROR if drift >= 2 else Severity.WARNING,
            title=f"{drift} resume request(s) contradicted the item's task",
            description=(
                f"{drift} contract-drift event(s) within "
                f"{duration(facts.thresholds.drift_window_seconds)}"
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
    ]


@alert_rule("backlog")
def backlog_findings(facts: AlertFacts) -> list[HealthAlert]:
    """Alerts the backlog queries worded themselves (e.g. ``lore:blocked``)."""
    return [
        HealthAlert(
            id=finding.alert_id,
            severity=Severity(finding.severity),
            title=finding.title,
            description=finding.description,
            plan_id=finding.plan_id,
        )
        for finding in facts.backlog.findings
    ]
