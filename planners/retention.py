"""Bounded history of the pipeline: transcripts, transitions, runs and telemetry events older
than their retention setting are deleted in batches (``cognition.retention``), except what is
still needed:

- everything of a plan that has not finished (status other than ``complete``): a resume, the
  flapping check and the plan page read it;
- the runs a caller names as evidence (``evidence_executions``: an open rollout checklist's,
  from ``planners.rollouts.retention``, which runs every kind), with their transcripts and events;
- runs not yet rolled up into ``ExecutionRollup``: the health report's all-time totals count
  those from the table, so deleting them would lower the totals. Only runs created before the
  roll-up mark may go; their totals stay in the roll-up.

Prune telemetry events before runs: a run's remaining events go with it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from cognition.retention import ROLLOUT_EVIDENCE, BatchBounds, Keep, PruneResult, prune_rows
from planners.models import (
    BacklogTransition,
    ExecutionRollupMark,
    PhaseTranscript,
    Plan,
    PlannerExecution,
    TelemetryEvent,
)

UNFINISHED = [status for status in Plan.Status.values if status != Plan.Status.COMPLETE]

PLAN_NOT_COMPLETE = "plan not complete"
NOT_ROLLED_UP = "not yet rolled up"


def _cutoff(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


def prune_transcripts(
    *,
    now: datetime,
    evidence_executions: Collection[int] = (),
    dry_run: bool = False,
    bounds: BatchBounds | None = None,
) -> PruneResult:
    days = settings.RETAIN_TRANSCRIPTS_DAYS
    keep = [
        Keep(PLAN_NOT_COMPLETE, Q(plan__status__in=UNFINISHED)),
        Keep(ROLLOUT_EVIDENCE, Q(execution_id__in=sorted(evidence_executions))),
    ]
    old = PhaseTranscript.objects.filter(created_at__lt=_cutoff(now, days))
    return prune_rows("transcripts", old, keep, retain_days=days, dry_run=dry_run, bounds=bounds)


def prune_transitions(
    *, now: datetime, dry_run: bool = False, bounds: BatchBounds | None = None
) -> PruneResult:
    days = settings.RETAIN_TRANSITIONS_DAYS
    keep = [Keep(PLAN_NOT_COMPLETE, Q(plan__status__in=UNFINISHED))]
    old = BacklogTransition.objects.filter(created_at__lt=_cutoff(now, days))
    return prune_rows("transitions", old, keep, retain_days=days, dry_run=dry_run, bounds=bounds)


def prune_telemetry_events(
    *,
    now: datetime,
    evidence_executions: Collection[int] = (),
    dry_run: bool = False,
    bounds: BatchBounds | None = None,
) -> PruneResult:
    days = settings.RETAIN_TELEMETRY_EVENTS_DAYS
    keep = [
        Keep(PLAN_NOT_COMPLETE, Q(execution__plan__status__in=UNFINISHED)),
        Keep(ROLLOUT_EVIDENCE, Q(execution_id__in=sorted(evidence_executions))),
    ]
    old = TelemetryEvent.objects.filter(created_at__lt=_cutoff(now, days))
    return prune_rows(
        "telemetry events", old, keep, retain_days=days, dry_run=dry_run, bounds=bounds
    )


def prune_executions(
    *,
    now: datetime,
    evidence_executions: Collection[int] = (),
    dry_run: bool = False,
    bounds: BatchBounds | None = None,
) -> PruneResult:
    """Runs go only once rolled up; deleting one sets its transcripts' link to NULL and takes
    its telemetry events with it."""
    days = settings.RETAIN_EXECUTIONS_DAYS
    mark = ExecutionRollupMark.objects.values_list("rolled_up_before", flat=True).first()
    keep = [
        Keep(PLAN_NOT_COMPLETE, Q(plan__status__in=UNFINISHED)),
        Keep(ROLLOUT_EVIDENCE, Q(pk__in=sorted(evidence_executions))),
        # Before the first roll-up nothing is rolled up: every run counts from the table.
        Keep(NOT_ROLLED_UP, Q(created_at__gte=mark) if mark is not None else Q(pk__isnull=False)),
    ]
    old = PlannerExecution.objects.filter(created_at__lt=_cutoff(now, days))
    return prune_rows("executions", old, keep, retain_days=days, dry_run=dry_run, bounds=bounds)
