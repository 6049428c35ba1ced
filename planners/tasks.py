"""Celery tasks of the pipeline engine: one task runs one backlog item's phase, any pipeline's.

The task takes an id, reloads the row, and is safe to run twice. It is the engine's three
steps (``planners.pipeline.phase``): claim (commit 1), run the planner under a heartbeat,
record (commit 2: the phase's records, its closing and the claim of every item that became
ready, whose tasks are queued after that commit); then a retry with backoff when the phase
failed in a way that can clear by itself, or, when the provider said how long to wait (a 429's
``Retry-After``), a new message after that wait that does not count as a retry.

``acks_late`` + ``reject_on_worker_lost`` give the phase back to the broker when a pool process
dies. What the broker cannot give back, the pipeline resumes itself (reason ``auto-resume``): a
worker that starts again resumes at once the items its earlier start held (it was killed: a
node name runs once at a time), and the ``sweep_stale_backlog`` beat task those whose heartbeat
went silent.
"""

from __future__ import annotations

import logging
import random
import uuid
from typing import Any

from celery import Task, shared_task, signals
from django.conf import settings
from django.db import DatabaseError, connection, connections
from django.utils import timezone

from cognition.agents import get_agent_service
from cognition.agents.base import AgentService
from cognition.agents.limits import (
    Admission,
    AgentOnTurn,
    ProviderLimiter,
    ProviderLimits,
    provider_limiter,
)
from cognition.worker_identity import current_worker_start
from planners.actions import resume_orphaned_items, sweep_stale_items
from planners.execution_rollup import roll_up_executions
from planners.framework.admission import expected_run_tokens
from planners.models import BacklogItem, BacklogStatus
from planners.pipeline import phase
from planners.pipeline.registry import PhaseSpec, PipelineError
from planners.pipeline.scheduling import RUN_PHASE_TASK, schedule_ready_items

logger = logging.getLogger(__name__)

WORKER_ACTOR = phase.WORKER_ACTOR
SWEEP_ACTOR = "sweep"
#: The longest wait between two retries of a phase, whatever the backoff base.
MAX_RETRY_COUNTDOWN_SECONDS = 600.0
#: A phase's provider lease outlives its soft time limit by the hard limit's margin: past it,
#: the worker holding it is dead or was killed.
LEASE_GRACE_SECONDS = 30


def retry_countdown(retries: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter (retries of many phases hit by one outage spread out
    instead of arriving together), never sooner than the provider's ``Retry-After``."""
    base = float(settings.AGENT_RETRY_BACKOFF_SECONDS)
    backoff = min(base * (2**retries), MAX_RETRY_COUNTDOWN_SECONDS)
    jittered = random.uniform(backoff / 2, backoff)
    return max(jittered, retry_after or 0.0)


@shared_task(
    bind=True,
    name=RUN_PHASE_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.PIPELINE_PHASE_TIME_LIMIT_SECONDS,
    time_limit=settings.PIPELINE_PHASE_TIME_LIMIT_SECONDS + LEASE_GRACE_SECONDS,
    max_retries=settings.PIPELINE_MAX_RETRIES,
)
def run_backlog_item_task(self: Task, item_id: int, correlation_id: str = "") -> str:
    """Run the phase of backlog item ``item_id``; returns what happened, for logs and tests."""
    correlation_id = correlation_id or uuid.uuid4().hex
    item = BacklogItem.objects.select_related("plan__project").order_by().filter(pk=item_id).first()
    spec = _runnable_spec(item, item_id, correlation_id)
    if isinstance(spec, str):
        return spec
    assert item is not None

    owner = self.request.id or f"local-{correlation_id}"
    backend = item.agent_backend or item.plan.agent_backend or settings.AGENT_BACKEND
    try:
        agent: AgentService | None = get_agent_service(backend)
        agent_error = ""
    except Exception as exc:  # a misconfigured backend: nothing a retry can fix
        agent, agent_error = None, f"agent backend {backend!r}: {exc}"
    # In-process (tests, CELERY_TASK_ALWAYS_EAGER) there is no other worker to share limits with,
    # and a deferral would run again at once instead of waiting.
    limiter = provider_limiter() if agent is not None and not self.request.is_eager else None
    if limiter is not None:
        admission = admit_call(limiter, backend, owner, spec)
        if not admission.admitted:
            return defer_phase(self, item, correlation_id, admission)
        if agent is not None and admission.turn:
            agent = AgentOnTurn(
                agent, admission.turn, rebook=lambda: admit_call(limiter, backend, owner, spec)
            )
    slot = HeldSlot(limiter, backend, owner) if limiter is not None else None
    try:
        result = _claim_run_record(
            self, item, spec, owner, backend, agent, agent_error, correlation_id, slot
        )
    finally:
        if slot is not None:
            slot.release()
    if isinstance(result, str):
        return result
    retries = self.request.retries
    if not phase.should_retry(result, retries):
        return result.status
    if result.retry_after:
        # The provider asked us to wait (a 429 or 503 with Retry-After): not a failure of the
        # phase, so it comes back after the pause with the retries it had.
        return requeue_phase(
            self, item, correlation_id, result.retry_after, f"provider asked ({result.reason})"
        )
    countdown = retry_countdown(retries)
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


def _runnable_spec(item: BacklogItem | None, item_id: int, correlation_id: str) -> PhaseSpec | str:
    """The phase spec that runs ``item``, or why the task has nothing to run: a vanished,
    synthetic, finished, stopped or unknown-phase item."""
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
    try:
        return phase.spec_for(item)
    except PipelineError as exc:
        logger.error("backlog item %s cannot run: %s", item.backlog_id, exc)
        phase.fail_unrunnable(item, str(exc))
        return "unknown-phase"


class HeldSlot:
    """This phase's place among the backend's calls in flight, given back once (as soon as
    its calls are over, or when the task ends however it ends)."""

    def __init__(self, limiter: ProviderLimiter, backend: str, lease: str) -> None:
        self.limiter, self.backend, self.lease = limiter, backend, lease
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.limiter.release(self.backend, self.lease)


def admit_call(limiter: ProviderLimiter, backend: str, lease: str, spec: PhaseSpec) -> Admission:
    """Ask the provider limits for one call of ``backend``, held under ``lease`` until the
    phase's calls are over or, should the worker die, until its hard time limit has passed."""
    limits = ProviderLimits.from_settings()
    return limiter.admit(
        backend,
        lease,
        # Only a tokens-a-minute limit counts them: without one, no query for them.
        tokens=expected_run_tokens(spec.planner) if limits.tokens_per_minute else 0,
        lease_seconds=settings.PIPELINE_PHASE_TIME_LIMIT_SECONDS + LEASE_GRACE_SECONDS,
        limits=limits,
    )


def defer_phase(task: Task, item: BacklogItem, correlation_id: str, admission: Admission) -> str:
    """Queue the phase again after the limits' wait, and free this worker meanwhile."""
    return requeue_phase(
        task, item, correlation_id, admission.wait, f"agent backend limit ({admission.reason})"
    )


def requeue_phase(task: Task, item: BacklogItem, correlation_id: str, wait: float, why: str) -> str:
    """Queue the phase again after ``wait`` seconds. A new message, not a retry: waiting for the
    provider is not a failure, so it keeps the retry count it had. The heartbeat tells the stale
    sweep the item is still driven."""
    countdown = wait + random.uniform(0, min(wait, 1.0))  # spread the herd
    BacklogItem.objects.filter(pk=item.pk).update(heartbeat_at=timezone.now())
    run_backlog_item_task.signature(
        (item.pk,),
        {"correlation_id": correlation_id},
        options={"retries": task.request.retries},
    ).apply_async(countdown=countdown)
    logger.info("%s of plan %s deferred %.1fs: %s", item.backlog_id, item.plan_id, countdown, why)
    return "deferred"


def _claim_run_record(
    task: Task,
    item: BacklogItem,
    spec: PhaseSpec,
    owner: str,
    backend: str,
    agent: AgentService | None,
    agent_error: str,
    correlation_id: str,
    slot: HeldSlot | None,
) -> phase.PhaseResult | str:
    """The engine's three steps; the result, or why nothing ran."""
    contract = phase.agent_contract(item, backend, agent) if agent is not None else {}
    claimed = phase.claim(item, spec, owner, contract)
    if isinstance(claimed, str):
        return claimed
    if agent is None:
        phase_run = phase.failed_run(claimed, agent_error, correlation_id=correlation_id)
    else:
        phase_run = phase.run(
            claimed,
            agent,
            correlation_id=correlation_id,
            # In-process (tests, CELERY_TASK_ALWAYS_EAGER): nobody to tell we are alive.
            heartbeat=not task.request.is_eager,
        )
    if slot is not None:
        if phase_run.retry_after:
            # The provider asked for a pause (a 429's Retry-After): every worker honours it,
            # from before this phase's records are written.
            slot.limiter.pause(backend, phase_run.retry_after)
            logger.warning("agent backend %s paused for %.1fs", backend, phase_run.retry_after)
        # The phase's calls are over: another phase may call while this one is recorded.
        slot.release()
    return phase.record(phase_run, retries=task.request.retries)


@shared_task(name="planners.tasks.sweep_stale_backlog", ignore_result=True)
def sweep_stale_backlog() -> int:
    """Resume in-progress items whose heartbeat is older than ``BACKLOG_STALE_AFTER_SECONDS``
    or that an earlier start of this worker held (reason ``auto-resume``), and queue ready
    items of plans nothing is driving any more."""
    return sweep_stale_items(actor=SWEEP_ACTOR, worker=current_worker_start())


@signals.worker_ready.connect
def resume_items_of_the_earlier_start(sender: Any = None, **kwargs: Any) -> None:
    """A worker that starts again resumes at once what its earlier start held: that start is
    gone (a node name runs once at a time), and those items would otherwise wait a minute or
    more for their heartbeats to go stale. Runs in the main process before it takes any task;
    each item's new task goes to whichever worker consumes the phases queue."""
    worker = current_worker_start()
    if worker is None:
        return
    try:
        resume_orphaned_items(worker, actor=worker.node)
    except DatabaseError:  # the stale rule still resumes them once the database answers
        logger.warning("%s could not resume the items of its earlier start", worker.node)
    finally:
        # Hold no connection in the main process, nor across a pool process's fork (a caller's
        # transaction, as in tests, keeps its own).
        if not connection.in_atomic_block:
            connections.close_all()


@shared_task(name="planners.tasks.roll_up_executions", ignore_result=True)
def roll_up_executions_task() -> int:
    """Add settled planner runs to the all-time totals the health report reads."""
    return roll_up_executions()
