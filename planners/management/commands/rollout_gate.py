"""``python manage.py rollout_gate PLANNER ENVIRONMENT [--wait SECONDS]``: the rollout gate.

Prints the gate as JSON (the same as ``GET /api/rollouts/<planner>/<environment>/gate``) and a
one-line verdict on stderr. Exit codes: 0 ok (signed off and its watch passed), 1 not ok
(including an unknown planner or environment), 2 inconclusive (the watch saw too few runs).
With ``--wait`` it polls until the gate opens, fails for good (the watch failed or was
inconclusive) or the time is up.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cognition.command_arguments import positive_seconds
from planners.framework.errors import UnknownPlannerError
from planners.rollouts.actions import RolloutError
from planners.rollouts.gate import Gate, gate_for
from planners.rollouts.watch import WatchState

EXIT_NOT_OK = 1
EXIT_INCONCLUSIVE = 2
POLL_SECONDS = 2.0


def _settled(gate: Gate) -> bool:
    return gate.ok or gate.watch.state in (WatchState.FAILED, WatchState.INCONCLUSIVE)


class Command(BaseCommand):
    help = "Print a planner's rollout gate in an environment: exit 0 ok, 1 not ok, 2 inconclusive."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("planner", help="Planner slug, e.g. vision.")
        parser.add_argument("environment", help="dev, staging or production.")
        parser.add_argument(
            "--wait",
            type=positive_seconds,
            default=None,
            metavar="SECONDS",
            help="Wait up to this long for the gate to open (or fail for good).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        deadline = time.monotonic() + (options["wait"] or 0.0)
        while True:
            try:
                gate = gate_for(options["planner"], options["environment"])
            except (UnknownPlannerError, RolloutError) as exc:
                raise CommandError(str(exc)) from None
            if _settled(gate) or time.monotonic() >= deadline:
                break
            time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.05)))
        self.stdout.write(json.dumps(gate.to_dict(), indent=2))
        self.stderr.write(self._verdict(gate))
        if gate.ok:
            return
        raise SystemExit(EXIT_INCONCLUSIVE if gate.inconclusive else EXIT_NOT_OK)

    def _verdict(self, gate: Gate) -> str:
        label = f"{gate.planner} / {gate.environment}"
        if gate.ok:
            return f"Gate open: {label} is signed off and its watch passed."
        if gate.inconclusive:
            return f"Gate inconclusive: {label}: {gate.watch.explanation}."
        reasons = gate.sign_off_problems or [gate.watch.explanation]
        return f"Gate closed: {label}: " + "; ".join(r.rstrip(".") for r in reasons) + "."
