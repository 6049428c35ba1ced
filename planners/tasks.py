"""Celery tasks of the fiction pipeline: one task runs one backlog item's phase.

The task takes an id, reloads the row, and is safe to run twice. A phase costs two commits:

1. the claim: the item's checkpoint (created on first use) taken with a conditional update (one
   worker wins; a redelivered task whose checkpoint is complete does nothing), with the attempt,
   first heartbeat and agent contract on the item;
2. after the agent call, ONE transaction under the plan's row lock: the execution row and its
   telemetry events, what the phase produced, the transcripts, the checkpoint's outcome, the
   item's transition and the claim of every item that became ready; their tasks are queued after
   that commit.

The phase heartbeats while it runs so a dead worker is noticed. ``acks_late`` +
``reject_on_worker_lost`` give the phase back to the broker when the worker dies; the
``sweep_stale_backlog`` beat task resumes what the broker cannot (a silent heartbeat).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType
from typing import Any

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from cognition.agents import get_agent_service
from cognition.agents.base import AgentError, AgentService
from planners.fiction.phases import phase_key
from planners.fiction.runners import ITEM_WITH_TARGETS, PhaseResult, run_backlog_item
from planners.models import BacklogItem, BacklogStatus, BacklogTransition, PhaseCheckpoint
from planners.scheduling import lock_plan, schedule_ready_items
from planners.transitions import transition_backlog_item

logger = logging.getLogger(__name__)

WORKER_ACTOR = "worker"
SWEEP_ACTOR = "sweep"
#: The longest wait between two retries of a phase, whatever the backoff base.
MAX_RETRY_COUNTDOWN_SECONDS = 600.0


def find_checkpoint(item: BacklogItem) -> PhaseCheckpoint | None:
    """The item's checkpoint if it has one (see ``checkpoint_for``), in one query."""
    key = phase_key(item, branch=item.plan.branch)
    found = list(
        PhaseCheckpoint.objects.filter(
            Q(backlog_item=item) | Q(phase_key=key), plan_id=item.plan_id
        ).order_by("id")
    )
    mine = next((c for c in found if c.backlog_item_id == item.pk), None)
    if mine is not None:
        return mine
    return next((c for c in found if c.phase_key == key), None)


def new_checkpoint(item: BacklogItem, *, owner: str = "") -> PhaseCheckpoint:
    """Insert the item's checkpoint, already claimed by ``owner`` when given (the insert is the
    claim: the unique plan + phase key lets one insert win). An ``IntegrityError`` means another
    worker inserted the same key first."""
    now = timezone.now()
    claimed = (
        {
            "status": PhaseCheckpoint.Status.RUNNING,
            "lock_owner": owner,
            "locked_at": now,
            "heartbeat_at": now,
            "attempts": 1,
        }
        if owner
        else {}
    )
    return PhaseCheckpoint.objects.create(
        plan_id=item.plan_id,
        phase_key=phase_key(item, branch=item.plan.branch),
        phase=item.phase,
        backlog_item=item,
        **claimed,
    )


def checkpoint_for(item: BacklogItem) -> PhaseCheckpoint:
    """The item's checkpoint, created on first use (one per plan + phase key, never two).

    An existing checkpoint of the item wins over the computed key: a runner may attach a target
    row to the item while it runs, and a redelivered task must find the same checkpoint. Both
    are looked up in one query; a new checkpoint is inserted, and of two workers inserting the
    same key at once the loser reads the winner's row.
    """
    found = find_checkpoint(item)
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return new_checkpoint(item)
    except IntegrityError:
        key = phase_key(item, branch=item.plan.branch)
        return PhaseCheckpoint.objects.get(plan_id=item.plan_id, phase_key=key)


def claim_checkpoint(checkpoint: PhaseCheckpoint, owner: str) -> bool:
    """Take the checkpoint for ``owner``; True for exactly one of several racing workers.

    Claimable: not running (pending, blocked, failed); running under the same owner (the broker
    redelivered this very task after its worker died); or running with a heartbeat older than
    the stale threshold (its worker is gone).
    """
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.BACKLOG_STALE_AFTER_SECONDS)
    claimable = (
        Q(status__in=[PhaseCheckpoint.Status.PENDING, PhaseCheckpoint.Status.BLOCKED])
        | Q(status=PhaseCheckpoint.Status.FAILED)
        | Q(status=PhaseCheckpoint.Status.RUNNING, lock_owner=owner)
        | Q(status=PhaseCheckpoint.Status.RUNNING, lock_owner="")
        | Q(status=PhaseCheckpoint.Status.RUNNING, heartbeat_at__lt=stale_before)
    )
    claimed = (
        PhaseCheckpoint.objects.filter(claimable, pk=checkpoint.pk)
        .exclude(status=PhaseCheckpoint.Status.COMPLETE)
        .update(
            status=PhaseCheckpoint.Status.RUNNING,
            lock_owner=owner,
            locked_at=now,
            heartbeat_at=now,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    )
    return claimed == 1


class PhaseHeartbeat:
    """Touches the item's and the checkpoint's ``heartbeat_at`` every ``interval`` seconds from
    a daemon thread while the phase runs, so a phase that outlives its worker goes stale."""

    def __init__(self, item_id: int, checkpoint_id: int, owner: str, interval: float) -> None:
        self.item_id = item_id
        self.checkpoint_id = checkpoint_id
        self.owner = owner
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{item_id}", daemon=True)

    def __enter__(self) -> PhaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def beat(self) -> None:
        now = timezone.now()
        # Two autocommit statements, not one transaction: the phase's own transaction locks the
        # checkpoint and then the item, and a beat holding one while waiting for the other
        # could deadlock with it.
        BacklogItem.objects.filter(pk=self.item_id, status=BacklogStatus.IN_PROGRESS).update(
            heartbeat_at=now
        )
        PhaseCheckpoint.objects.filter(
            pk=self.checkpoint_id,
            status=PhaseCheckpoint.Status.RUNNING,
            lock_owner=self.owner,
        ).update(heartbeat_at=now)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.beat()
                except Exception:  # a missed beat must never kill the phase
                    logger.warning("heartbeat for backlog item %s failed", self.item_id)
        finally:
            # The thread's own connection, opened by the first beat.
            connections.close_all()


def _agent_contract(item: BacklogItem, backend: str, agent: AgentService) -> dict[str, str]:
    """The agent fields to record the first time the item runs (resume checks them); only
    those not recorded yet."""
    fields = {
        "agent_backend": item.agent_backend or backend,
        "agent_provider": item.agent_provider or agent.provider,
        "agent_model": item.agent_model or agent.model,
    }
    return {name: value for name, value in fields.items() if getattr(item, name) != value}


def _retry_countdown(retries: int) -> float:
    base = float(settings.AGENT_RETRY_BACKOFF_SECONDS)
    return min(base * (2**retries), MAX_RETRY_COUNTDOWN_SECONDS)


#: PhaseResult.status → (item status, checkpoint status, transition reason)
_OUTCOMES: dict[str, tuple[str, str, str]] = {
    "completed": (BacklogStatus.COMPLETE, PhaseCheckpoint.Status.COMPLETE, "phase-complete"),
    # A quota breach ended the run before the phase did its job: hold the item for a person.
    "skipped": (BacklogStatus.BLOCKED, PhaseCheckpoint.Status.BLOCKED, "phase-blocked"),
    "blocked": (BacklogStatus.BLOCKED, PhaseCheckpoint.Status.BLOCKED, "phase-blocked"),
    "cancelled": (BacklogStatus.BLOCKED, PhaseCheckpoint.Status.BLOCKED, "cancel"),
    "failed": (BacklogStatus.FAILED, PhaseCheckpoint.Status.FAILED, "phase-failed"),
}


def finish_phase(
    item: BacklogItem,
    checkpoint: PhaseCheckpoint,
    outcome: str,
    *,
    reason: str = "",
    owner: str,
    correlation_id: str,
    plan_locked: bool = False,
) -> None:
    """Close the checkpoint, move the item and schedule every item that became ready, in one
    transaction (the caller's, when it has one: the runner's, with the phase's records).

    The caller holds the plan's lock (``lock_plan``; ``plan_locked``) or this takes it: of two
    phases of one plan finishing at once, the second waits for the first to commit, so its
    scheduling sees both and queues their common dependant. The tasks are queued after
    commit."""
    item_status, checkpoint_status, transition_reason = _OUTCOMES.get(outcome, _OUTCOMES["failed"])
    now = timezone.now()
    detail = reason if outcome != "skipped" else f"skipped: {reason}"
    with transaction.atomic(savepoint=False):
        if not plan_locked:
            lock_plan(item.plan_id)
        PhaseCheckpoint.objects.filter(pk=checkpoint.pk, lock_owner=owner).update(
            status=checkpoint_status,
            result={"outcome": outcome, "reason": reason},
            heartbeat_at=now,
            updated_at=now,
        )
        extra: dict[str, Any] = {
            "last_error": "" if item_status == BacklogStatus.COMPLETE else reason
        }
        # The item's transition and those of the items it makes ready: one INSERT.
        transitions: list[BacklogTransition] = []
        transition_backlog_item(
            item,
            item_status,
            reason=transition_reason,
            actor=WORKER_ACTOR,
            detail=detail,
            only_from=[BacklogStatus.IN_PROGRESS, BacklogStatus.PENDING],
            extra_fields=extra,
            batch=transitions,
        )
        schedule_ready_items(
            item.plan,
            actor=WORKER_ACTOR,
            correlation_id=correlation_id,
            plan_locked=True,
            transitions=transitions,
        )


def release_for_retry(
    item: BacklogItem, checkpoint: PhaseCheckpoint, owner: str, reason: str
) -> None:
    """Hand the checkpoint back so the retry (same task id) or a resume can take it."""
    with transaction.atomic(savepoint=False):
        PhaseCheckpoint.objects.filter(pk=checkpoint.pk, lock_owner=owner).update(
            status=PhaseCheckpoint.Status.PENDING, result={"retrying": reason}
        )
        BacklogItem.objects.filter(pk=item.pk).update(last_error=f"retrying: {reason}")


def _claim(item: BacklogItem, owner: str, contract: dict[str, str]) -> tuple[str, Any]:
    """Claim the item and its checkpoint for ``owner`` in one transaction: the item's start
    transition when it is still pending; the checkpoint, inserted already claimed on first use
    (one insert wins the unique plan + phase key) or else taken with the conditional update of
    ``claim_checkpoint``; and the attempt, first heartbeat and agent contract on the item.
    Returns ``("claimed", checkpoint)`` or why not (``claimed-elsewhere``,
    ``already-complete``) with None.

    An item that never ran has no checkpoint of its own, so the first try inserts one without
    looking; a key another worker (or a test) inserted first sends it to the look-up."""
    for tried in range(2):
        found = find_checkpoint(item) if item.attempts or tried else None
        try:
            with transaction.atomic():
                if item.status == BacklogStatus.PENDING and not transition_backlog_item(
                    item,
                    BacklogStatus.IN_PROGRESS,
                    reason="phase-start",
                    actor=WORKER_ACTOR,
                    only_from=[BacklogStatus.PENDING],
                ):
                    return "claimed-elsewhere", None
                if found is None:
                    checkpoint = new_checkpoint(item, owner=owner)
                else:
                    checkpoint = found
                    if checkpoint.status == PhaseCheckpoint.Status.COMPLETE:
                        logger.info("checkpoint %s is already complete", checkpoint.phase_key)
                        return "already-complete", None
                    if not claim_checkpoint(checkpoint, owner):
                        logger.info("checkpoint %s is held by another worker", checkpoint.phase_key)
                        return "claimed-elsewhere", None
                    checkpoint.attempts += 1
                BacklogItem.objects.filter(pk=item.pk).update(
                    attempts=F("attempts") + 1, heartbeat_at=timezone.now(), **contract
                )
        except IntegrityError:
            # Another worker inserted the same plan + phase key first: claim its row instead.
            item.refresh_from_db(fields=["status"])
            continue
        for name, value in contract.items():
            setattr(item, name, value)
        return "claimed", checkpoint
    return "claimed-elsewhere", None


def _should_retry(result: PhaseResult, retries: int) -> bool:
    return (
        result.status in ("failed", "skipped")
        and result.retryable
        and retries < settings.PIPELINE_MAX_RETRIES
    )


@shared_task(
    bind=True,
    name="planners.tasks.run_backlog_item_task",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.PIPELINE_PHASE_TIME_LIMIT_SECONDS,
    time_limit=settings.PIPELINE_PHASE_TIME_LIMIT_SECONDS + 30,
    max_retries=settings.PIPELINE_MAX_RETRIES,
)
def run_backlog_item_task(self: Task, item_id: int, correlation_id: str = "") -> str:
    """Run the phase of backlog item ``item_id``; returns what happened, for logs and tests."""
    correlation_id = correlation_id or uuid.uuid4().hex
    # One query for the item and every row the phase reads of it (plan, project, targets).
    item = next(iter(ITEM_WITH_TARGETS.filter(pk=item_id)), None)
    if item is None:
        logger.warning("backlog item %s no longer exists; nothing to run", item_id)
        return "missing"
    if item.synthetic:
        return "synthetic"
    if item.status == BacklogStatus.COMPLETE:
        # A redelivery after the phase committed: its dependants were claimed in the same
        # commit; queue any that are still ready (a no-op unless something was lost).
        schedule_ready_items(item.plan, actor=WORKER_ACTOR, correlation_id=correlation_id)
        return "already-complete"
    if item.status in (BacklogStatus.BLOCKED, BacklogStatus.FAILED):
        logger.info("backlog item %s is %s; waiting for a resume", item.backlog_id, item.status)
        return "not-runnable"

    owner = self.request.id or f"local-{correlation_id}"
    backend = item.agent_backend or item.plan.agent_backend or settings.AGENT_BACKEND
    try:
        agent: AgentService | None = get_agent_service(backend)
        agent_error = ""
    except Exception as exc:  # a misconfigured backend: nothing a retry can fix
        agent, agent_error = None, f"agent backend {backend!r}: {exc}"
    contract = _agent_contract(item, backend, agent) if agent is not None else {}
    claim, checkpoint = _claim(item, owner, contract)
    if checkpoint is None:
        return claim

    retries = self.request.retries

    def close(result: PhaseResult) -> None:
        """Runs in the transaction that stores the phase's records, under the plan's lock."""
        if _should_retry(result, retries):
            release_for_retry(item, checkpoint, owner, result.reason)
        else:
            finish_phase(
                item,
                checkpoint,
                result.status,
                reason=result.reason,
                owner=owner,
                correlation_id=correlation_id,
                plan_locked=True,
            )

    if agent is None:
        result, recorded = PhaseResult(status="failed", reason=agent_error), False
    else:
        result, recorded = _run_phase(
            item, checkpoint, agent, owner, correlation_id, close, eager=self.request.is_eager
        )
    if not recorded:
        # No agent, or the phase raised before its records were committed: close it alone.
        with transaction.atomic():
            lock_plan(item.plan_id)
            close(result)
    if _should_retry(result, retries):
        countdown = _retry_countdown(retries)
        logger.warning(
            "%s of plan %s will be retried in %.1fs (retry %s of %s): %s",
            item.backlog_id,
            item.plan_id,
            countdown,
            retries + 1,
            settings.PIPELINE_MAX_RETRIES,
            result.reason,
        )
        raise self.retry(countdown=countdown, max_retries=settings.PIPELINE_MAX_RETRIES)
    return result.status


def _run_phase(
    item: BacklogItem,
    checkpoint: PhaseCheckpoint,
    agent: AgentService,
    owner: str,
    correlation_id: str,
    close: Callable[[PhaseResult], None],
    *,
    eager: bool,
) -> tuple[PhaseResult, bool]:
    """Run the item's phase under a heartbeat; every way it can end becomes a ``PhaseResult``
    (an agent error the runner let through is retryable unless the agent says permanent).
    The flag says whether the runner stored the phase with ``close`` (False when it raised)."""
    logger.info(
        "running %s (%s) of plan %s: attempt %s",
        item.backlog_id,
        item.phase,
        item.plan_id,
        checkpoint.attempts,
    )
    heartbeat = (
        contextlib.nullcontext()
        if eager  # in-process (tests, CELERY_TASK_ALWAYS_EAGER): nobody to tell we are alive
        else PhaseHeartbeat(item.pk, checkpoint.pk, owner, settings.PIPELINE_HEARTBEAT_SECONDS)
    )
    try:
        with heartbeat:
            result = run_backlog_item(
                item,
                agent,
                correlation_id=correlation_id,
                actor=WORKER_ACTOR,
                close=close,
                refresh=False,
            )
        return result, True
    except AgentError as exc:
        failed = PhaseResult(
            status="failed", reason=f"agent error: {exc}", retryable=not exc.permanent
        )
    except SoftTimeLimitExceeded:
        limit = settings.PIPELINE_PHASE_TIME_LIMIT_SECONDS
        failed = PhaseResult(status="failed", reason=f"the phase ran longer than {limit}s")
    except Exception as exc:
        logger.exception("phase %s of backlog item %s crashed", item.phase, item.backlog_id)
        failed = PhaseResult(status="failed", reason=f"{type(exc).__name__}: {exc}")
    return failed, False


@shared_task(name="planners.tasks.sweep_stale_backlog", ignore_result=True)
def sweep_stale_backlog() -> int:
    """Resume in-progress items whose heartbeat is older than ``BACKLOG_STALE_AFTER_SECONDS``
    (reason ``auto-resume``), and queue ready items of plans nothing is driving any more."""
    from planners.actions import sweep_stale_items

    return sweep_stale_items(actor=SWEEP_ACTOR)


@shared_task(name="planners.tasks.roll_up_executions", ignore_result=True)
def roll_up_executions() -> int:
    """Add settled planner runs to the all-time totals the health report reads."""
    from planners.execution_rollup import roll_up_executions as roll_up

    return roll_up()
