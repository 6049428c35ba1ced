"""Step 3 of a phase, ``record`` (commit 2, under the plan's row lock): the execution row,
what the runner materialises, the transcripts, the checkpoint's outcome, the item's transition
and the claim of every item that became ready; or, for a run that will be retried, the
checkpoint handed back."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from planners.models import (
    BacklogItem,
    BacklogStatus,
    BacklogTransition,
    PhaseCheckpoint,
    PhaseTranscript,
)
from planners.pipeline.phase_state import (
    WORKER_ACTOR,
    Claim,
    PhaseResult,
    PhaseRun,
    PhaseStatus,
    base_metadata,
)
from planners.pipeline.registry import Materialised
from planners.pipeline.scheduling import lock_plan, refresh_plan_status, schedule_ready_items
from planners.pipeline.transcripts import AttemptRecord, record_transcripts
from planners.pipeline.transitions import transition_backlog_item
from planners.pipeline.unproduced_inputs import refresh_unproduced_inputs

logger = logging.getLogger(__name__)

#: PhaseResult.status → (item status, checkpoint status, transition reason)
OUTCOMES: dict[str, tuple[str, str, str]] = {
    "completed": (BacklogStatus.COMPLETE, PhaseCheckpoint.Status.COMPLETE, "phase-complete"),
    # A quota breach ended the run before the phase did its job: hold the item for a person.
    "skipped": (BacklogStatus.BLOCKED, PhaseCheckpoint.Status.BLOCKED, "phase-blocked"),
    "blocked": (BacklogStatus.BLOCKED, PhaseCheckpoint.Status.BLOCKED, "phase-blocked"),
    "cancelled": (BacklogStatus.BLOCKED, PhaseCheckpoint.Status.BLOCKED, "cancel"),
    "failed": (BacklogStatus.FAILED, PhaseCheckpoint.Status.FAILED, "phase-failed"),
}


def should_retry(result: PhaseResult, retries: int | None) -> bool:
    """Whether the task runs the phase again (``retries``: None never retries). A failure that
    carries the provider's ``Retry-After`` is a wait, not a fault of the phase: it runs again
    whatever its retry count (the task re-queues it without charging a retry)."""
    return (
        retries is not None
        and result.status in ("failed", "skipped")
        and result.retryable
        and (bool(result.retry_after) or retries < settings.PIPELINE_MAX_RETRIES)
    )


def record(phase_run: PhaseRun, *, retries: int | None, close: bool = True) -> PhaseResult:
    """Store the phase and close it (or hand it back for a retry), in one transaction under
    the plan's lock; ``retries``: how often the task has retried (None: never retry).
    ``close=False`` stores the phase's records only (tests of a family's runners)."""
    claimed = phase_run.claim
    item = claimed.item
    with transaction.atomic():
        lock_plan(item.plan_id)
        execution = phase_run.finished.save() if phase_run.finished is not None else None
        status, reason, materialised = _materialise(phase_run)
        if status == "completed" and claimed.spec.creates:
            # The one place a running pipeline changes a plan's items: work out once what
            # they now wait on that nothing produces (the health report's orphans).
            refresh_unproduced_inputs([item.plan_id])
        if status == "blocked" or (status == "failed" and not phase_run.retryable):
            claimed.spec.runner.stopped(item, status)
        transcripts = record_transcripts(
            item,
            phase_run.recorder.calls if phase_run.recorder is not None else [],
            _attempts_to_record(phase_run, reason),
            metadata=_transcript_metadata(phase_run, materialised),
            execution=execution,
        )
        result = PhaseResult(
            status=status,
            reason=reason,
            retryable=phase_run.retryable,
            execution_id=execution.pk if execution is not None else None,
            transcript_ids=tuple(t.pk for t in transcripts),
            summary=materialised.summary,
            retry_after=phase_run.retry_after,
        )
        if close and should_retry(result, retries):
            _release_for_retry(claimed, result.reason)
        elif close:
            _close(claimed, result, correlation_id=phase_run.correlation_id)
    logger.info(
        "phase %s of item %s on plan %s: %s%s",
        item.phase,
        item.backlog_id,
        item.plan_id,
        status,
        f" ({reason})" if reason else "",
    )
    return result


def _materialise(phase_run: PhaseRun) -> tuple[PhaseStatus, str, Materialised]:
    """Write a completed phase's reply through its runner, under a savepoint: a reply that
    cannot be stored fails the phase and keeps the rest of its records."""
    item = phase_run.claim.item
    if phase_run.status != "completed":
        return phase_run.status, phase_run.reason, Materialised()
    assert phase_run.finished is not None
    assert phase_run.phase_input is not None
    try:
        with transaction.atomic():
            materialised = phase_run.claim.spec.runner.materialise(
                item,
                phase_run.finished.result.reply,
                phase_run.phase_input,
                actor=phase_run.actor,
            )
    except Exception as exc:
        logger.exception("materialising %s of item %s failed", item.phase, item.backlog_id)
        return "failed", f"could not store the reply: {type(exc).__name__}: {exc}", Materialised()
    return "completed", "", materialised


def _attempts_to_record(phase_run: PhaseRun, reason: str) -> list[AttemptRecord]:
    """The planner's attempts; for a phase that ended before the planner could say why (no
    agent, a crash) and made no call, one row saying it, so every claim has its transcript."""
    calls = phase_run.recorder.calls if phase_run.recorder is not None else []
    if calls or phase_run.attempts:
        return phase_run.attempts
    item = phase_run.claim.item
    return [AttemptRecord.no_call(item, reason, "", validation=PhaseTranscript.Validation.UNKNOWN)]


def _transcript_metadata(phase_run: PhaseRun, materialised: Materialised) -> dict[str, Any]:
    metadata = {
        **base_metadata(phase_run.claim, phase_run.correlation_id),
        "outcome": phase_run.outcome,
    }
    if phase_run.phase_input is not None:
        metadata.update(phase_run.phase_input.links)
    metadata.update(materialised.links)
    if materialised.summary:
        metadata["materialised"] = materialised.summary
    return metadata


def _close(claimed: Claim, result: PhaseResult, *, correlation_id: str) -> None:
    """Close the checkpoint, move the item and claim every item that became ready, in the
    caller's transaction (which holds the plan's lock: of two phases of one plan finishing at
    once, the second waits for the first to commit, so its scheduling sees both and queues
    their common dependant). The tasks are queued after commit."""
    item = claimed.item
    item_status, checkpoint_status, transition_reason = OUTCOMES.get(
        result.status, OUTCOMES["failed"]
    )
    now = timezone.now()
    detail = result.reason if result.status != "skipped" else f"skipped: {result.reason}"
    PhaseCheckpoint.objects.filter(pk=claimed.checkpoint.pk, lock_owner=claimed.owner).update(
        status=checkpoint_status,
        result={"outcome": result.status, "reason": result.reason},
        heartbeat_at=now,
        updated_at=now,
    )
    # The item's transition and those of the items it makes ready: one INSERT.
    transitions: list[BacklogTransition] = []
    transition_backlog_item(
        item,
        item_status,
        reason=transition_reason,
        actor=WORKER_ACTOR,
        detail=detail,
        only_from=[BacklogStatus.IN_PROGRESS, BacklogStatus.PENDING],
        extra_fields={"last_error": "" if item_status == BacklogStatus.COMPLETE else result.reason},
        batch=transitions,
    )
    schedule_ready_items(
        item.plan,
        actor=WORKER_ACTOR,
        correlation_id=correlation_id,
        plan_locked=True,
        transitions=transitions,
    )


def _release_for_retry(claimed: Claim, reason: str) -> None:
    """Hand the checkpoint back so the retry (same task id) or a resume can take it."""
    PhaseCheckpoint.objects.filter(pk=claimed.checkpoint.pk, lock_owner=claimed.owner).update(
        status=PhaseCheckpoint.Status.PENDING, result={"retrying": reason}
    )
    BacklogItem.objects.filter(pk=claimed.item.pk).update(last_error=f"retrying: {reason}")


def fail_unrunnable(item: BacklogItem, reason: str) -> None:
    """An item no registered pipeline can run (its pipeline or phase is gone, or this worker
    started before it was added): fail it with the reason, so the operator sees it instead of
    a task that errors for ever, and bring the plan's status up to date in the same commit,
    as a failed phase does (the plan is blocked once nothing else runs or can run)."""
    with transaction.atomic():
        lock_plan(item.plan_id)
        transition_backlog_item(
            item,
            BacklogStatus.FAILED,
            reason="phase-failed",
            actor=WORKER_ACTOR,
            detail=reason,
            only_from=[BacklogStatus.PENDING, BacklogStatus.IN_PROGRESS],
            extra_fields={"last_error": reason},
        )
        refresh_plan_status(item.plan)
