"""``python manage.py verify_rollout PLANNER``: run the system checks for this deployment.

Verifies the planner's checklist in the current environment (``DEPLOY_ENVIRONMENT``), creating
it from the runbook if needed, stores each snapshot as evidence and prints what passed. Exits
non-zero when a check fails, so a deploy pipeline can gate on it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from planners.framework.errors import UnknownPlannerError
from planners.models.rollout import CheckedVia
from planners.rollouts.actions import RolloutError, get_or_create_checklist, verify_checklist


class Command(BaseCommand):
    help = "Verify a planner's rollout checklist items from this deployment's live data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("planner", help="Planner slug, e.g. vision.")
        parser.add_argument("--actor", default="verify_rollout", help="Recorded as the checker.")

    def handle(self, *args: Any, **options: Any) -> None:
        slug: str = options["planner"]
        actor: str = options["actor"]
        try:
            checklist, _ = get_or_create_checklist(slug, settings.DEPLOY_ENVIRONMENT, actor=actor)
            run = verify_checklist(checklist, actor=actor, via=CheckedVia.COMMAND)
        except (UnknownPlannerError, RolloutError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Rollout checks for {checklist}:")
        for name, result in run.results.items():
            mark = "PASS" if result.passed else "FAIL"
            style = self.style.SUCCESS if result.passed else self.style.ERROR
            self.stdout.write(style(f"  {mark} {name}: {result.summary}"))
        if not run.passed:
            failed = sum(1 for r in run.results.values() if not r.passed)
            raise CommandError(f"{failed} of {len(run.results)} checks failed.")
