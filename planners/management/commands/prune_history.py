"""``manage.py prune_history [--dry-run]``: delete history older than its retention setting."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cognition.retention import PruneResult
from planners.rollouts.retention import prune_history


def _line(result: PruneResult) -> str:
    verb = "would delete" if result.dry_run else "deleted"
    text = f"{result.kind}: {verb} {result.deleted} older than {result.retain_days} days"
    if result.kept:
        reasons = ", ".join(f"{reason}: {count}" for reason, count in result.kept.items())
        text += f"; kept {sum(result.kept.values())} still needed ({reasons})"
    if result.deferred:
        text += f"; {result.deferred} left for the next run (RETAIN_MAX_BATCHES)"
    return text


class Command(BaseCommand):
    help = (
        "Delete transcripts, transitions, planner runs, telemetry events, alert events and "
        "delivery attempts older than their RETAIN_*_DAYS setting, in batches, keeping what an "
        "unfinished plan, an open rollout checklist or an unresolved alert still needs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for result in prune_history(dry_run=options["dry_run"]):
            self.stdout.write(_line(result))
