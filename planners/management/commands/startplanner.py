"""``python manage.py startplanner NAME``: scaffold a planner the runbook's way.

Writes ``planners/<name>/`` (parameters and planner class on ``PlannerBase``, a runner hook,
scripted replies) and ``tests/test_planner_<name>.py``, then opens the planner's ``dev`` rollout
checklist with the files recorded as touched. The package is registered at start-up with no
further edit (see ``planners.rollouts.scaffold``); the generated test passes unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from planners.framework.catalog import catalog
from planners.rollouts.actions import get_or_create_checklist
from planners.rollouts.scaffold import PlannerNames, ScaffoldError, scaffold_planner

FIRST_ENVIRONMENT = "dev"


class Command(BaseCommand):
    help = "Scaffold a new planner package, its scripted-reply test and its dev rollout checklist."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The planner's name, e.g. risk_review or 'Risk Review'.")
        parser.add_argument(
            "--target",
            type=Path,
            default=None,
            help="Project root to write into (default: this project).",
        )
        parser.add_argument(
            "--no-checklist", action="store_true", help="Do not open the dev rollout checklist."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        target: Path = (options["target"] or Path(settings.BASE_DIR)).resolve()
        try:
            names = PlannerNames.from_name(options["name"])
        except ScaffoldError as exc:
            raise CommandError(str(exc)) from exc
        if names.slug in catalog:
            raise CommandError(f"A planner with slug {names.slug!r} is already registered.")
        try:
            result = scaffold_planner(names, target)
        except ScaffoldError as exc:
            raise CommandError(str(exc)) from exc
        touched = [str(path.relative_to(target)) for path in result.files]
        for path in touched:
            self.stdout.write(f"  created {path}")
        if not options["no_checklist"]:
            checklist, _ = get_or_create_checklist(
                names.slug, FIRST_ENVIRONMENT, actor="startplanner", require_registered=False
            )
            checklist.files_touched = "\n".join(touched)
            checklist.follow_ups = (
                f"Describe the planner and its prompt in planners/{names.module}/planner.py\n"
                "Seed its template on each deployment: python manage.py seed_planner_templates"
            )
            checklist.save(update_fields=["files_touched", "follow_ups", "updated_at"])
            self.stdout.write(f"  opened rollout checklist {checklist}")
        self.stdout.write(
            self.style.SUCCESS(f"Planner {names.slug!r} ({names.template_id}) scaffolded.")
        )
        self.stdout.write(
            "It registers itself when the app starts. Next:\n"
            f"  python -m pytest tests/test_planner_{names.module}.py\n"
            "  python manage.py seed_planner_templates\n"
            f"  python manage.py verify_rollout {names.slug}"
        )
