"""``manage.py planner_health [--json] [--plan ID]``: print the planner health report.

Exit status follows the report so scripts and cron jobs can act on it: 0 healthy, 1 degraded,
2 critical, and 3 when it could not run: a configuration error (``manage.py``), a database that
cannot be read, or a ``--plan`` that is not a plan id (argparse's own usage exit code, 2, would
read as "critical", so the plan id is checked here).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError

from cognition.command_arguments import BadArgument, record_id
from cognition.database_state import database_problem
from planners.health import (
    HealthStatus,
    PlannerHealthReport,
    Severity,
    UnknownPlanError,
    build_health_report,
)
from planners.health.report import PlannerState

EXIT_CODES = {HealthStatus.HEALTHY: 0, HealthStatus.DEGRADED: 1, HealthStatus.CRITICAL: 2}
EXIT_COULD_NOT_RUN = 3


class Command(BaseCommand):
    help = (
        "Print the planner health report; exit 0 healthy, 1 degraded, 2 critical, 3 could not run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument("--plan", default=None, help="Only this plan's backlog (plan id).")

    def handle(self, *args: Any, **options: Any) -> None:
        plan_id: int | None = None
        if options["plan"] is not None:
            try:
                plan_id = record_id(options["plan"], "--plan")
            except BadArgument as exc:
                self.stderr.write(str(exc))
                sys.exit(EXIT_COULD_NOT_RUN)
        try:
            report = build_health_report(plan_id=plan_id)
        except UnknownPlanError as exc:
            self.stderr.write(str(exc))
            sys.exit(EXIT_COULD_NOT_RUN)
        except DatabaseError as exc:
            self.stderr.write(database_problem(exc))
            sys.exit(EXIT_COULD_NOT_RUN)
        if options["json"]:
            self.stdout.write(json.dumps(report.to_dict(), indent=2))
        else:
            self.stdout.write(self._summary(report))
        sys.exit(EXIT_CODES[report.status])

    def _summary(self, report: PlannerHealthReport) -> str:
        style = {
            HealthStatus.HEALTHY: self.style.SUCCESS,
            HealthStatus.DEGRADED: self.style.WARNING,
            HealthStatus.CRITICAL: self.style.ERROR,
        }[report.status]
        scope = f" (plan {report.plan_id})" if report.plan_id is not None else ""
        lines = [
            f"Planner health{scope} [{report.environment}]: " + style(report.status.value.upper()),
            f"Generated at {report.to_dict()['generated_at']}",
            "",
            "Planners:",
            *(_planner_line(planner) for planner in report.planners),
            "",
            *_figures_lines(report),
            _liveness_line(report),
            "",
            *self._alert_lines(report),
        ]
        if report.warnings:
            lines.append("Warnings:")
            lines.extend(f"  - {warning}" for warning in report.warnings)
        return "\n".join(lines)

    def _alert_lines(self, report: PlannerHealthReport) -> list[str]:
        if not report.alerts:
            return ["Alerts: none"]
        lines = [f"Alerts ({len(report.alerts)}):"]
        for alert in report.alerts:
            marker: Callable[[str], str] = {
                Severity.ERROR: self.style.ERROR,
                Severity.WARNING: self.style.WARNING,
            }.get(alert.severity, str)
            synthetic = " [synthetic]" if alert.synthetic else ""
            label = marker(alert.severity.value.upper().ljust(7))
            lines.append(f"  {label} {alert.id}{synthetic}: {alert.title}")
            lines.append(f"          {alert.description}")
        return lines


def _planner_line(planner: PlannerState) -> str:
    templates = ", ".join(
        f"{s.template_id} "
        + (
            "missing"
            if not s.found
            else f"v{s.version}" + ("" if s.active and not s.empty else " (unusable)")
        )
        for s in planner.steps
    )
    fallback = (
        f", fallback in {planner.fallback_runs_in_window} run(s)"
        if (planner.fallback_in_use)
        else ""
    )
    return f"  {planner.slug}: {planner.runs_in_window} recent run(s){fallback}; {templates}"


def _figures_lines(report: PlannerHealthReport) -> list[str]:
    backlog, telemetry = report.backlog, report.telemetry
    counts = ", ".join(f"{status} {n}" for status, n in backlog.counts.items())
    return [
        f"Backlog: {backlog.total} item(s) in {backlog.plans_total} plan(s): {counts}",
        f"  stale {backlog.stale_total}, orphaned {backlog.orphaned_total}, "
        f"flapping {len(backlog.flapping)}, contract drift {backlog.contract_drift_total}, "
        f"synthetic {backlog.synthetic_total}",
        f"Telemetry: {telemetry.executions_total} run(s), "
        f"{telemetry.executions_in_window} in the last {telemetry.window_seconds} s, "
        f"{telemetry.recent_failures_total} failed recently; latency p50 "
        f"{_seconds(telemetry.latency.p50_seconds)}, p95 "
        f"{_seconds(telemetry.latency.p95_seconds)}; tokens {telemetry.tokens.total}",
    ]


def _liveness_line(report: PlannerHealthReport) -> str:
    liveness = report.liveness
    alive = liveness.alive_workers
    queues = ", ".join(sorted(liveness.queues_served)) or "no queue"
    workers = f"{len(alive)} alive ({queues})" if alive else "none alive"
    beat = liveness.beat
    if beat is None:
        beat_seen = "never seen"
    else:
        ago = (liveness.checked_at - beat.last_seen).total_seconds()
        beat_seen = f"{'alive' if beat.alive else 'silent'}, last seen {ago:.0f} s ago"
    return f"Workers: {workers}; beat {beat_seen}"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"
