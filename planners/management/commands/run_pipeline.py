"""``manage.py run_pipeline``: queue a plan's phases on the worker and optionally watch them."""

from __future__ import annotations

import getpass
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Max
from django.utils import timezone

from cognition.agents import BACKENDS
from cognition.command_arguments import BadArgument, bounded_text, positive_seconds, record_id
from cognition.liveness import Liveness, current_liveness
from planners.actions import create_plan, fresh_run_branch, start_pipeline
from planners.demo import DEMO_PROJECT_TITLE, get_or_create_project
from planners.models import BacklogItem, BacklogStatus, BacklogTransition, Plan, Project
from planners.pipeline.registry import DEFAULT_PIPELINE, pipelines
from planners.pipeline.scheduling import implied_plan_status

#: Seconds without any transition after which --wait says what it is waiting for, and again
#: every this many seconds while nothing moves.
WAITING_NOTE_AFTER = 10.0


class Command(BaseCommand):
    help = (
        "Create or reuse a plan of a pipeline and queue its phases on the Celery worker. With "
        "--wait, "
        "print every backlog transition as it happens and exit 0 when the plan completes, 1 when "
        "it ends blocked or failed, 2 on timeout."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group()
        target.add_argument(
            "--plan", help="Run this existing plan (by id; its pipeline is its own)."
        )
        target.add_argument(
            "--project",
            default=DEMO_PROJECT_TITLE,
            help=f"Run the plan of this project, creating both if needed "
            f"(default {DEMO_PROJECT_TITLE!r}).",
        )
        parser.add_argument(
            "--pipeline",
            help=f"The pipeline to run (default {DEFAULT_PIPELINE!r}); see `manage.py pipelines`.",
        )
        parser.add_argument(
            "--branch",
            help="The plan's branch (default main; when main is already complete a fresh "
            "run-N branch is created so the phases run again).",
        )
        parser.add_argument(
            "--agent", choices=BACKENDS, help="Agent backend (default: AGENT_BACKEND)."
        )
        parser.add_argument("--wait", action="store_true", help="Watch until the plan ends.")
        parser.add_argument(
            "--timeout",
            type=positive_seconds,
            default=600.0,
            help="Seconds --wait waits (default 600).",
        )
        parser.add_argument(
            "--poll",
            type=positive_seconds,
            default=0.5,
            help="Seconds between progress checks (default 0.5).",
        )
        parser.add_argument("--actor", default="", help="Who runs it (default: your login).")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = options["actor"] or f"cli:{getpass.getuser()}"
        plan = self._plan(options, actor)
        seen = BacklogTransition.objects.filter(plan=plan).aggregate(last=Max("id"))["last"] or 0
        started = time.monotonic()
        queued = start_pipeline(plan, actor=actor, agent_backend=options["agent"])
        plan.refresh_from_db()
        agent = plan.agent_backend or settings.AGENT_BACKEND
        # The plan's name holds the project's title as its owner wrote it: never re-case it.
        named = f"{plan.pk} {plan.name!r}"
        if queued:
            names = ", ".join(f"{item.backlog_id} ({item.phase})" for item in queued)
            self.stdout.write(f"Queued {names} of plan {named} on the worker (agent {agent}).")
        elif plan.status == Plan.Status.COMPLETE:
            self.stdout.write(self.style.SUCCESS(f"Plan {named} is already complete."))
            return
        elif plan.status == Plan.Status.BLOCKED:
            self._report_blocked(plan)
        else:
            self.stdout.write(f"Plan {named} is {plan.status}; nothing new to queue.")
        if options["wait"]:
            self._watch(plan, seen, started, timeout=options["timeout"], poll=options["poll"])

    def _plan(self, options: dict[str, Any], actor: str) -> Plan:
        pipeline = options["pipeline"]
        if pipeline is not None and pipeline not in pipelines:
            known = ", ".join(pipelines.slugs())
            raise CommandError(f"Unknown pipeline {pipeline!r}; pipelines: {known}.")
        if options["plan"] is not None:
            try:
                options["plan"] = record_id(options["plan"], "--plan")
            except BadArgument as exc:
                raise CommandError(str(exc)) from None
            plan = Plan.objects.select_related("project").filter(pk=options["plan"]).first()
            if plan is None:
                raise CommandError(f"No plan with id {options['plan']}.")
            if pipeline is not None and pipeline != plan.pipeline:
                raise CommandError(
                    f"Plan {plan.pk} runs the {plan.pipeline!r} pipeline, not {pipeline!r}."
                )
            return plan
        pipeline = pipeline or DEFAULT_PIPELINE
        title = project_title(options["project"])
        project, created = get_or_create_project(title)
        if created:
            self.stdout.write(f"Created project {title!r}.")
        branch = options["branch"] or "main"
        plans = project.plans.filter(pipeline=pipeline)
        plan = plans.filter(branch=branch).first()
        if plan is not None and plan.status == Plan.Status.COMPLETE and not options["branch"]:
            branch, plan = fresh_run_branch(plan), None
            self.stdout.write(f"The main plan is complete; starting a fresh plan on {branch}.")
        if plan is None:
            plan = create_plan(
                project,
                pipeline=pipeline,
                branch=branch,
                agent_backend=options["agent"],
                actor=actor,
            )
            self.stdout.write(f"Created {pipeline} plan {plan.pk} on branch {branch}.")
        return plan

    def _watch(self, plan: Plan, seen: int, started: float, *, timeout: float, poll: float) -> None:
        last_progress = started
        while True:
            new = list(
                BacklogTransition.objects.filter(plan=plan, pk__gt=seen)
                .select_related("item")
                .order_by("pk")
            )
            for transition in new:
                self._print_transition(transition, time.monotonic() - started)
                seen = transition.pk
                last_progress = time.monotonic()
            # The items decide, not the plan row: a failed item with nothing else running or
            # ready ends the wait even if whoever failed it left the row as it was.
            status = implied_plan_status(plan) or plan.status
            elapsed = time.monotonic() - started
            if status == Plan.Status.COMPLETE:
                done = plan.backlog_items.filter(synthetic=False).count()
                self.stdout.write(
                    self.style.SUCCESS(
                        f"[{elapsed:6.1f}s] plan {plan.pk} complete: {done} backlog items done."
                    )
                )
                return
            if status == Plan.Status.BLOCKED:
                self._report_blocked(plan)
            if elapsed > timeout:
                raise CommandError(
                    f"Timed out after {timeout:g}s with plan {plan.pk} {status}.",
                    returncode=2,
                )
            if time.monotonic() - last_progress > WAITING_NOTE_AFTER:
                last_progress = time.monotonic()
                self.stderr.write(waiting_note(plan, current_liveness()))
            time.sleep(poll)

    def _print_transition(self, transition: BacklogTransition, elapsed: float) -> None:
        item = transition.item
        line = (
            f"[{elapsed:6.1f}s] {item.phase:<16} {item.backlog_id}: "
            f"{transition.from_status or '-'} → {transition.to_status} ({transition.reason})"
        )
        if transition.to_status in (BacklogStatus.BLOCKED, BacklogStatus.FAILED):
            self.stdout.write(self.style.ERROR(f"{line}: {transition.detail}"))
        elif transition.to_status == BacklogStatus.COMPLETE:
            self.stdout.write(self.style.SUCCESS(line))
        else:
            self.stdout.write(line)

    def _report_blocked(self, plan: Plan) -> None:
        raise CommandError(blocked_report(plan), returncode=1)


def project_title(value: str) -> str:
    """``--project`` as a project title: not blank, and no longer than the title column."""
    max_length = Project._meta.get_field("title").max_length or 0
    try:
        return bounded_text(value, "--project", max_length=max_length)
    except BadArgument as exc:
        raise CommandError(str(exc)) from None


def blocked_report(plan: Plan) -> str:
    """Why ``plan`` stopped: each blocked or failed item with its error (the first line), then
    how to go on. One stopped item makes one line of reason."""
    stuck = list(
        BacklogItem.objects.filter(
            plan=plan,
            synthetic=False,
            status__in=[BacklogStatus.BLOCKED, BacklogStatus.FAILED],
        ).order_by("position", "id")
    )
    reasons = [_stopped_line(item) for item in stuck]
    if not reasons:
        return (
            f"Plan {plan.pk} is blocked: none of its items can run, and none is blocked or failed."
        )
    if len(reasons) == 1:
        lines = [f"Plan {plan.pk} is blocked: {reasons[0]}"]
        backlog_id = stuck[0].backlog_id
    else:
        lines = [f"Plan {plan.pk} is blocked:", *(f"  {reason}" for reason in reasons)]
        backlog_id = "<BACKLOG_ID>"
    hint = f"Fix the cause, then: python manage.py resume_backlog {plan.pk} {backlog_id}"
    return "\n".join([*lines, hint])


def _stopped_line(item: BacklogItem) -> str:
    error = item.last_error.strip().splitlines()[0] if item.last_error.strip() else "no reason"
    return f"{item.backlog_id} ({item.phase}) {item.status}: {error}"


def waiting_note(plan: Plan, liveness: Liveness) -> str:
    """What a plan that has not moved for a while waits for: a worker, or its phases in flight."""
    if not liveness.workers_alive:
        last = liveness.worker_last_seen
        seen = (
            f"the last was seen {(liveness.checked_at - last).total_seconds():.0f}s ago"
            if last
            else "none has a heartbeat on record"
        )
        return (
            f"No worker is alive ({seen}): `make run` starts one, or run "
            "`.venv/bin/celery -A cognition worker -l info` in another shell."
        )
    workers = f"{len(liveness.alive_workers)} worker(s) alive"
    if settings.PHASES_QUEUE not in liveness.queues_served:
        return f"Waiting: {workers}, but none consumes the {settings.PHASES_QUEUE!r} queue."
    in_flight = plan.backlog_items.filter(synthetic=False, status=BacklogStatus.IN_PROGRESS)
    lines = [_in_flight_line(item) for item in in_flight]
    if not lines:
        return f"Waiting: {workers}; no phase of plan {plan.pk} is in progress yet (queued)."
    return "\n".join([f"Waiting: {workers}; in flight:", *lines])


def _in_flight_line(item: BacklogItem) -> str:
    retries = max(item.attempts - 1, 0)
    line = (
        f"  {item.phase} {item.backlog_id}: attempt {item.attempts}, {retries} "
        f"retr{'y' if retries == 1 else 'ies'} (at most {settings.PIPELINE_MAX_RETRIES})"
    )
    if item.heartbeat_at:
        line += f", heartbeat {(timezone.now() - item.heartbeat_at).total_seconds():.0f}s ago"
    if item.last_error:
        line += f"; last error: {item.last_error.splitlines()[0][:200]}"
    return line
