"""``python manage.py export_rollout_evidence PLANNER > file.json``: this environment's evidence.

The file names the planner and this deployment's environment; ``import_rollout_evidence`` on
another deployment records it under that same checklist (see ``actions.import_evidence`` for
what carries over, the sign-off's watch included). With ``ROLLOUT_EVIDENCE_KEY`` set the file
is signed; without it, it is written unsigned with a warning on stderr, and only a dev
deployment will import it.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from planners.models.rollout import RolloutChecklist
from planners.rollouts.evidence import export_evidence
from planners.rollouts.signing import SIGNATURE_FIELD


class Command(BaseCommand):
    help = "Write this environment's rollout evidence for a planner as JSON (to stdout)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("planner", help="Planner slug, e.g. vision.")

    def handle(self, *args: Any, **options: Any) -> None:
        env = settings.DEPLOY_ENVIRONMENT
        checklist = (
            RolloutChecklist.objects.select_related("environment")
            .filter(planner_slug=options["planner"], environment__name=env)
            .first()
        )
        if checklist is None:
            raise CommandError(f"No rollout checklist for {options['planner']} in {env}.")
        exported = export_evidence(checklist)
        if SIGNATURE_FIELD not in exported:
            self.stderr.write(
                "Warning: ROLLOUT_EVIDENCE_KEY is not set, so this file is unsigned; only a dev "
                "deployment imports unsigned evidence."
            )
        self.stdout.write(json.dumps(exported, indent=2))
