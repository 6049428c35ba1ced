"""System checks: runbook items the product verifies itself, from live data in this deployment.

Each check looks at the current environment only (``settings.DEPLOY_ENVIRONMENT``): evidence for
another environment is gathered on that deployment and carried over with
``export_rollout_evidence`` / ``import_rollout_evidence``. A check returns whether it passed, a
one-line summary for people, and the snapshot of what it saw, stored as the item's evidence so
the sign-off can be audited later even after the live data has changed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from cognition.prompts import template_states
from opsalerts.config import load_ops_alerting_config, validate_ops_alerting
from planners.framework.metadata import PlannerMetadata
from planners.models import PlannerExecution, PlannerOutcome
from planners.pipeline.registry import pipelines
from planners.rollouts import runbook
from planners.rollouts.ack_check import check_synthetic_alert_acknowledged
from planners.rollouts.check_types import Check, CheckContext, CheckResult
from planners.rollouts.health_check import check_diagnostics_healthy

logger = logging.getLogger(__name__)


def check_template_seeded(ctx: CheckContext) -> CheckResult:
    """Every step's prompt template exists, is active and has text (no fallback needed)."""
    states = template_states(ctx.planner.template_ids)
    steps: list[dict[str, Any]] = []
    for step in ctx.planner.steps:
        state = states[step.template_id]
        steps.append(
            {
                "step": step.id,
                "template_id": step.template_id,
                "found": state.found,
                "active": state.active,
                "version": state.version,
                "empty": state.empty,
            }
        )
    unusable = [s["template_id"] for s in steps if not (s["found"] and s["active"]) or s["empty"]]
    if unusable:
        summary = "Not seeded or not usable: " + ", ".join(unusable)
    else:
        summary = "Seeded and active: " + ", ".join(
            f"{s['template_id']} v{s['version']}" for s in steps
        )
    return CheckResult(not unusable, summary, {"steps": steps})


def _redact_url(url: str) -> str:
    """Webhook URLs often carry a token in their path (Slack): keep scheme and host only."""
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.netloc else "(invalid URL)"


def check_ops_config_valid(ctx: CheckContext) -> CheckResult:
    """Ops alerting is enabled and its configuration validates, as at start-up."""
    problems = validate_ops_alerting()
    config = load_ops_alerting_config()
    if not config.enabled:
        problems = [
            "Ops alerting is disabled (OPS_ALERTING_ENABLED=false): no alert reaches the channel.",
            *problems,
        ]
    snapshot = {
        "enabled": config.enabled,
        "webhook": _redact_url(config.webhook_url),
        "routes": [
            {"match": r.match, "webhook": _redact_url(r.webhook_url), "routing_key": r.routing_key}
            for r in config.routes
        ],
        "slo_thresholds": dict(config.slo_thresholds),
        "signing_secret_set": bool(config.signing_secret),
        "problems": problems,
    }
    summary = "; ".join(problems) if problems else "Ops alerting enabled; configuration valid."
    return CheckResult(not problems, summary, snapshot)


def check_migrations_applied(ctx: CheckContext) -> CheckResult:
    """No migration of any app is waiting to be applied to this deployment's database."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    waiting = [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
    if waiting:
        return CheckResult(
            False,
            f"{len(waiting)} migration{'s' if len(waiting) != 1 else ''} not applied "
            f"({', '.join(waiting[:5])}{', …' if len(waiting) > 5 else ''}): "
            "run python manage.py migrate.",
            {"unapplied": waiting},
        )
    applied = len(executor.loader.applied_migrations)
    return CheckResult(True, f"All {applied} migrations applied.", {"unapplied": []})


def check_pipeline_run_completed(ctx: CheckContext) -> CheckResult:
    """A real (non-synthetic) run of this planner succeeded in this environment."""
    execution = (
        PlannerExecution.objects.filter(
            planner_slug=ctx.planner.slug,
            environment=ctx.environment,
            outcome=PlannerOutcome.SUCCESS,
            synthetic=False,
        )
        .order_by("-finished_at", "-id")
        .first()
    )
    if execution is None:
        found = pipelines.phase_for_planner(ctx.planner.slug)
        how = (
            f"python manage.py run_pipeline --pipeline {found[0].slug} --agent scripted --wait"
            if found is not None
            else "add the planner to a pipeline (startplanner --pipeline) and run it"
        )
        return CheckResult(
            False, f"No successful run of {ctx.planner.slug} in {ctx.environment}: {how}.", {}
        )
    snapshot = {
        "execution_id": execution.pk,
        "correlation_id": execution.correlation_id,
        "finished_at": execution.finished_at.isoformat(),
        "agent_provider": execution.agent_provider,
        "agent_model": execution.agent_model,
        "template_id": execution.template_id,
        "template_version": execution.template_version,
        "used_fallback": execution.used_fallback,
        "plan_id": execution.plan_id,
        "backlog_item_id": execution.backlog_item_id,
    }
    summary = (
        f"Execution #{execution.pk} succeeded at {execution.finished_at:%Y-%m-%d %H:%M} UTC "
        f"({execution.agent_provider or 'unknown'} agent)."
    )
    return CheckResult(True, summary, snapshot)


CHECKS: dict[str, Check] = {
    runbook.TEMPLATE_SEEDED: check_template_seeded,
    runbook.DIAGNOSTICS_HEALTHY: check_diagnostics_healthy,
    runbook.OPS_CONFIG_VALID: check_ops_config_valid,
    runbook.SYNTHETIC_ALERT_ACKNOWLEDGED: check_synthetic_alert_acknowledged,
    runbook.PIPELINE_RUN_COMPLETED: check_pipeline_run_completed,
    runbook.MIGRATIONS_APPLIED: check_migrations_applied,
}


def run_checks(
    planner: PlannerMetadata, names: Iterable[str], *, now: datetime | None = None
) -> dict[str, CheckResult]:
    """Run each named check once (several items may share one) in the current environment."""
    ctx = CheckContext(
        planner=planner, environment=settings.DEPLOY_ENVIRONMENT, now=now or timezone.now()
    )
    results: dict[str, CheckResult] = {}
    for name in dict.fromkeys(names):
        result = CHECKS[name](ctx)
        results[name] = CheckResult(
            result.passed,
            result.summary,
            {
                "check": name,
                "planner": planner.slug,
                "environment": ctx.environment,
                "checked_at": ctx.now.isoformat(),
                "passed": result.passed,
                "summary": result.summary,
                **result.snapshot,
            },
        )
        logger.info(
            "rollout check %s for %s in %s: %s",
            name,
            planner.slug,
            ctx.environment,
            "passed" if result.passed else "failed",
        )
    return results
