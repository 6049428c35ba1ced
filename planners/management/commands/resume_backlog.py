"""``manage.py resume_backlog PLAN BACKLOG_ID``: put a stale, blocked or failed item back."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cognition.agents import BACKENDS
from cognition.command_arguments import BadArgument, bounded_text, record_id
from planners.actions import ResumeRefused, resume_backlog_item
from planners.models import BacklogItem, Plan

BACKLOG_ID_LENGTH = BacklogItem._meta.get_field("backlog_id").max_length or 200


class Command(BaseCommand):
    help = (
        "Resume one backlog item (stale, blocked or failed) of a plan: it goes back to pending "
        "and is queued on the worker as soon as the items it depends on are complete."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("plan", help="The plan id.")
        parser.add_argument("backlog_id", help="The backlog item id within the plan.")
        parser.add_argument(
            "--agent",
            choices=BACKENDS,
            help="The agent backend to resume with; refused if it contradicts the recorded one.",
        )
        parser.add_argument("--provider", help="The provider expected on the item.")
        parser.add_argument("--model", help="The model expected on the item.")
        parser.add_argument("--actor", default="", help="Who resumes (default: your login).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            options["plan"] = record_id(options["plan"], "PLAN")
            bounded_text(options["backlog_id"], "BACKLOG_ID", max_length=BACKLOG_ID_LENGTH)
        except BadArgument as exc:
            raise CommandError(str(exc)) from None
        try:
            item = BacklogItem.objects.select_related("plan").get(
                plan_id=options["plan"], backlog_id=options["backlog_id"]
            )
        except BacklogItem.DoesNotExist:
            if not Plan.objects.filter(pk=options["plan"]).exists():
                raise CommandError(f"No plan with id {options['plan']}.") from None
            known = list(
                BacklogItem.objects.filter(plan_id=options["plan"]).values_list(
                    "backlog_id", flat=True
                )
            )
            hint = f" Items of plan {options['plan']}: {', '.join(known)}." if known else ""
            raise CommandError(
                f"No backlog item {options['backlog_id']!r} in plan {options['plan']}.{hint}"
            ) from None
        actor = options["actor"] or f"cli:{getpass.getuser()}"
        try:
            result = resume_backlog_item(
                item,
                actor=actor,
                agent_backend=options["agent"],
                provider=options["provider"],
                model=options["model"],
            )
        except ResumeRefused as refusal:
            raise CommandError(refusal.message) from None
        state = "queued on the worker" if result.queued else "pending, waiting for its inputs"
        self.stdout.write(
            self.style.SUCCESS(
                f"Resumed {item.backlog_id} of plan {item.plan_id} "
                f"({result.previous_status} → pending): {state}."
            )
        )
