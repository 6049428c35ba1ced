"""``python manage.py startplanner NAME [--pipeline SLUG [--after PHASE]]``: scaffold a planner
the runbook's way.

Writes ``planners/<name>/`` (parameters and planner class on ``PlannerBase``, its phase runner,
its pipeline, scripted replies) and ``tests/test_planner_<name>.py``, then opens the planner's
``dev`` rollout checklist with the files recorded as touched. Without ``--pipeline`` the planner
gets a one-phase pipeline of its own, named by its slug; with it, the planner becomes a phase of
that registered pipeline right after ``--after`` (default: its last phase). The package is
registered at start-up with no further edit (see ``planners.rollouts.scaffold``); the generated
test passes unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from planners.rollouts.actions import get_or_create_checklist
from planners.rollouts.scaffold import (
    PlannerNames,
    ScaffoldError,
    ScaffoldResult,
    place_phase,
    refuse_registered,
    scaffold_planner,
)

FIRST_ENVIRONMENT = "dev"


class Command(BaseCommand):
    help = (
        "Scaffold a new planner package with its pipeline phase, its scripted-reply test and its "
        "dev rollout checklist."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The planner's name, e.g. risk_review or 'Risk Review'.")
        parser.add_argument(
            "--pipeline",
            default=None,
            help="Add the planner as a phase of this registered pipeline (see `manage.py "
            "pipelines`) instead of giving it a one-phase pipeline of its own.",
        )
        parser.add_argument(
            "--after",
            default=None,
            metavar="PHASE",
            help="With --pipeline: the phase the planner runs after (default: the last one).",
        )
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
            refuse_registered(names)
            placement = place_phase(options["pipeline"], options["after"])
            result = scaffold_planner(names, target, placement)
        except ScaffoldError as exc:
            raise CommandError(str(exc)) from exc
        touched = [str(path.relative_to(target)) for path in result.files]
        for path in touched:
            self.stdout.write(f"  created {path}")
        if not options["no_checklist"]:
            self._open_checklist(result, touched)
        where = (
            f"phase {names.phase!r} of pipeline {placement.pipeline!r}, after {placement.after!r}"
            if placement.extends
            else f"its own pipeline {names.slug!r}"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Planner {names.slug!r} ({names.template_id}) scaffolded, in {where}."
            )
        )
        self.stdout.write("It registers itself when the app starts. Next:\n" + _next_steps(result))

    def _open_checklist(self, result: ScaffoldResult, touched: list[str]) -> None:
        names = result.names
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


def _next_steps(result: ScaffoldResult) -> str:
    names, pipeline = result.names, result.placement.pipeline or result.names.slug
    return "\n".join(
        [
            f"  python -m pytest tests/test_planner_{names.module}.py"
            "   (the test tools: make install-test)",
            "  python manage.py seed_planner_templates",
            f"  python manage.py run_pipeline --pipeline {pipeline} --agent scripted --wait"
            "   (with workers started after this: restart a running console)",
            f"  python manage.py trigger_synthetic_alert --planner {names.slug} --wait-ack 600",
            f"  python manage.py verify_rollout {names.slug}",
        ]
    )
