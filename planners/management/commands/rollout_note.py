"""``python manage.py rollout_note PLANNER ENVIRONMENT``: the runbook's step note as Markdown."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from planners.framework.errors import UnknownPlannerError
from planners.models.rollout import RolloutChecklist
from planners.rollouts.actions import RolloutError, get_environment, planner_metadata
from planners.rollouts.note import render_step_note


class Command(BaseCommand):
    help = "Print the step note (Markdown) for a planner's rollout in one environment."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("planner", help="Planner slug, e.g. vision.")
        parser.add_argument("environment", help="dev, staging or production.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            planner_metadata(options["planner"])
            get_environment(options["environment"])
        except (UnknownPlannerError, RolloutError) as exc:
            raise CommandError(str(exc)) from None
        checklist = (
            RolloutChecklist.objects.select_related("environment")
            .filter(planner_slug=options["planner"], environment__name=options["environment"])
            .first()
        )
        if checklist is None:
            raise CommandError(
                f"No rollout checklist for {options['planner']} in {options['environment']}: "
                "start it in the console or run verify_rollout on that deployment."
            )
        self.stdout.write(render_step_note(checklist), ending="")
