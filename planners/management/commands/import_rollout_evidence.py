"""``python manage.py import_rollout_evidence file.json``: record another deployment's evidence.

The evidence goes under the checklist the file names (its planner and environment). Refused
when the file is for this deployment's own environment (verify it here instead), when
``--into`` names a different checklist, when that checklist is already signed off here (a
later export of the same sign-off still brings its watch's result), and when the file is
unsigned (outside dev), signed with another key or altered: exit 1 with the reason in one
line, and nothing changes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from planners.framework.errors import UnknownPlannerError
from planners.models.rollout import RolloutChecklist
from planners.rollouts.actions import RolloutError, import_evidence
from planners.rollouts.watch import watch_state


class Command(BaseCommand):
    help = "Import rollout evidence exported by another deployment."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="JSON written by export_rollout_evidence ('-' = stdin).")
        parser.add_argument(
            "--into",
            metavar="PLANNER/ENVIRONMENT",
            help="The checklist you expect the file to fill; refused if the file names another.",
        )
        parser.add_argument("--actor", default="import_rollout_evidence")

    def handle(self, *args: Any, **options: Any) -> None:
        path: str = options["file"]
        try:
            raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
            data = json.loads(raw)
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        into: tuple[str, str] | None = None
        if options["into"]:
            planner, _, env = options["into"].partition("/")
            if not (planner and env):
                raise CommandError("--into expects PLANNER/ENVIRONMENT, e.g. vision/dev.")
            into = (planner, env)
        try:
            checklist = import_evidence(data, actor=options["actor"], into=into)
        except (RolloutError, UnknownPlannerError) as exc:
            raise CommandError(str(exc)) from exc
        checklist = RolloutChecklist.objects.select_related("environment", "sign_off", "watch").get(
            pk=checklist.pk
        )
        signed = " (signed off)" if checklist.is_signed_off else ""
        watch = watch_state(checklist)
        self.stdout.write(
            self.style.SUCCESS(f"Imported evidence into {checklist}{signed}; watch: {watch.state}.")
        )
