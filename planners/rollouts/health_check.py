"""``diagnostics_healthy``: healthy means healthy for this planner.

It fails on any firing error alert anywhere in the health report (an error elsewhere still
makes this a bad moment to promote), and on any warning alert naming this planner or its
templates (fallback in use, quota, critique, stale or flapping items of its plans) unless that
alert was acknowledged with a note saying why it can wait. The failure names the alerts.
"""

from __future__ import annotations

from typing import Any

from opsalerts.models import Alert, AlertEvent, Severity
from planners.health import HealthAlert
from planners.rollouts.check_types import CheckContext, CheckResult


def _names_planner(alert: HealthAlert, slug: str, template_ids: set[str]) -> bool:
    return alert.planner == slug or alert.template_id in template_ids


def _acknowledged_with_note(dedup_keys: list[str]) -> set[str]:
    """The alerts among ``dedup_keys`` acknowledged now, with a note on the acknowledgement."""
    events = AlertEvent.objects.filter(
        kind="acknowledged",
        alert__dedup_key__in=dedup_keys,
        alert__status=Alert.Status.ACKNOWLEDGED,
    ).values_list("alert__dedup_key", "detail")
    return {key for key, detail in events if isinstance(detail, dict) and detail.get("note")}


def _step_rows(ctx: CheckContext) -> tuple[bool, list[dict[str, Any]]]:
    state = next((p for p in ctx.health_report.planners if p.slug == ctx.planner.slug), None)
    if state is None:
        return False, []
    return True, [
        {"step": s.id, "template_id": s.template_id, "found": s.found, "active": s.active}
        for s in state.steps
    ]


def check_diagnostics_healthy(ctx: CheckContext) -> CheckResult:
    report = ctx.health_report
    slug = ctx.planner.slug
    template_ids = set(ctx.planner.template_ids)
    live = [a for a in report.alerts if not a.synthetic]
    errors = [a for a in live if a.severity == Severity.ERROR]
    warnings = [
        a for a in live if a.severity == Severity.WARNING and _names_planner(a, slug, template_ids)
    ]
    excused = _acknowledged_with_note([a.dedup_key(ctx.environment) for a in warnings])
    blocking_warnings = [a for a in warnings if a.dedup_key(ctx.environment) not in excused]
    listed, steps = _step_rows(ctx)
    missing = [s["template_id"] for s in steps if not s["found"]]
    problems: list[str] = []
    if not listed:
        problems.append(f"the health report does not list planner {slug!r}")
    if missing:
        problems.append("templates not found: " + ", ".join(missing))
    if errors:
        problems.append("error alerts firing: " + ", ".join(sorted({a.id for a in errors})))
    if blocking_warnings:
        problems.append(
            f"warning alerts naming {slug} (acknowledge each with a note to let it wait): "
            + ", ".join(sorted({a.id for a in blocking_warnings}))
        )
    summary = (
        "; ".join(problems)
        if problems
        else f"Templates found; no error alert, and no unexplained warning for {slug} "
        f"(whole report: {report.status})."
    )
    snapshot = {
        "report_generated_at": report.generated_at.isoformat(),
        "report_status": str(report.status),
        "steps": steps,
        "error_alerts": sorted({a.id for a in errors}),
        "warning_alerts": sorted({a.id for a in blocking_warnings}),
        "excused_warnings": sorted(excused),
    }
    return CheckResult(not problems, summary[:1].upper() + summary[1:], snapshot)
