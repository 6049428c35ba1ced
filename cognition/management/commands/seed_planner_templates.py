"""``manage.py seed_planner_templates [--check]``: seed planner prompts, or verify them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cognition.seeding import check_planner_templates, registered_planners, seed_planner_templates
from cognition.templating import TemplateError


class Command(BaseCommand):
    help = (
        "Create or update the prompt template of every registered planner step from the "
        "planner's built-in prompt. Admin versions are never overwritten. With --check, change "
        "nothing and fail when a step's template is missing, inactive or empty."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Verify only (deploy smoke check): exit 1 naming every unusable step template.",
        )

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        if not registered_planners():
            raise CommandError("No planners are registered: nothing to seed or check.")
        if check:
            self._check()
            return
        try:
            result = seed_planner_templates()
        except TemplateError as exc:
            raise CommandError(f"A built-in planner prompt is not valid: {exc}") from exc
        if options.get("verbosity", 1) >= 2:
            for label, names in (
                ("created", result.created),
                ("updated", result.updated),
                ("unchanged", result.unchanged),
                ("kept admin choice", result.kept),
            ):
                for name in names:
                    self.stdout.write(f"  {label}: {name}")
        self.stdout.write(result.summary())

    def _check(self) -> None:
        checked, problems = check_planner_templates()
        if problems:
            for problem in problems:
                self.stderr.write(f"  {problem}")
            raise CommandError(
                f"{len(problems)} of {checked} planner step template(s) are missing, inactive or "
                "empty; run `manage.py seed_planner_templates` or fix them in the admin."
            )
        self.stdout.write(f"OK: all {checked} planner step templates are active and non-empty.")
