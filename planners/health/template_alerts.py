"""Template rules: a step's template missing, inactive or empty, and runs on the fallback.

One rule, because the report lists each planner's template alerts together (its steps, then its
fallback), planner by planner.
"""

from __future__ import annotations

from planners.health.alert_rules import AlertFacts, alert_rule
from planners.health.report import HealthAlert, PlannerState, Severity, StepState


@alert_rule("templates")
def template_alerts(facts: AlertFacts) -> list[HealthAlert]:
    alerts: list[HealthAlert] = []
    for planner in facts.planners:
        for step in planner.steps:
            alert = _step_template_alert(planner, step)
            if alert is not None:
                alerts.append(alert)
        if planner.fallback_in_use:
            alerts.append(_fallback_alert(planner))
    return alerts


def _step_template_alert(planner: PlannerState, step: StepState) -> HealthAlert | None:
    if not step.found:
        return HealthAlert(
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
    if not step.active or step.empty:
        problem = "inactive" if not step.active else "empty (no active text)"
        return HealthAlert(
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
    return None


def _fallback_alert(planner: PlannerState) -> HealthAlert:
    return HealthAlert(
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
