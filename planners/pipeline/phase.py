"""One backlog item's phase, for any pipeline: claim → run → record.

* ``claim`` takes the item and its checkpoint for one worker (commit 1): the item's start
  transition when still pending; the checkpoint inserted already claimed on first use (the
  unique plan + phase key lets one insert win) or taken with a conditional update; the attempt,
  first heartbeat and agent contract on the item. It returns a ``Claim`` or why not.
* ``run`` asks the pipeline's runner for the planner's parameters and runs the planner under a
  heartbeat. It writes nothing: every way a run can end (a gate, a bad reply, an agent error, a
  crash, a time limit) comes back as a ``PhaseRun``.
* ``record`` stores the phase whole or not at all (commit 2), under the plan's row lock: the
  execution row and its telemetry events, what the runner materialises from a valid reply, the
  transcripts, the checkpoint's outcome, the item's transition and the claim of every item that
  became ready (their tasks are queued after the commit). A run that will be retried instead
  hands its checkpoint back.

The Celery task (``planners.tasks.run_backlog_item_task``) is these three calls plus the
retry; ``run_item_phase`` is the same in-process, for commands and tests.

One module on purpose, longer than most: the three steps and the records they hand each other
read top to bottom as what a phase does.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from cognition.agents.base import AgentError, AgentService
from planners.framework.base import FinishedRun
from planners.framework.catalog import catalog
from planners.framework.context import PlannerContext
from planners.framework.limits import quotas_for
from planners.models import (
    BacklogItem,
    BacklogStatus,
    BacklogTransition,
    PhaseCheckpoint,
    PhaseTranscript,
    PlannerOutcome,
)
from planners.pipeline.attempts import AttemptRecorder, interrupt_running_attempts
from planners.pipeline.checkpoints import claim_checkpoint, find_checkpoint, new_checkpoint
from planners.pipeline.checkpoints import phase_key as checkpoint_key
from planners.pipeline.heartbeat import PhaseHeartbeat
from planners.pipeline.registry import (
    Materialised,
    PhaseBlocked,
    PhaseInput,
    PhaseSpec,
    PipelineError,
    pipelines,
)
from planners.pipeline.scheduling import lock_plan, schedule_ready_items
from planners.pipeline.transcripts import AttemptRecord, record_transcripts
from planners.pipeline.transitions import transition_backlog_item
from planners.pipeline.unproduced_inputs import refresh_unproduced_inputs

logger = logging.getLogger(__name__)

WORKER_ACTOR = "worker"

PhaseStatus = Literal["completed", "blocked", "failed", "cancelled", "skipped"]

#: PhaseResult.status → (item status, checkpoint status, transition reason)
_OUTCOMES: dict[str, tuple[str, str, str]] = {
    "completed": (BacklogStatus.COMPLETE, PhaseCheckpoint.Status.COMPLETE, "phase-complete"),
    # A quota breach ended the run before the phase did its job: hold the item for a person.
    "skipped": (BacklogStatus.BLOCKED, PhaseCheckpoint.Status.BLOCKED, "phase-blocked"),
    "blocked": (BacklogStatus.BLOCKED, PhaseCheckpoint.Status.BLOCKED, "phase-blocked"),
    "cancelled": (BacklogStatus.BLOCKED, PhaseCheckpoint.Status.BLOCKED, "cancel"),
    "failed": (BacklogStatus.FAILED, PhaseCheckpoint.Status.FAILED, "phase-failed"),
}


@dataclass(frozen=True)
class PhaseResult:
    """How a phase ended. ``reason`` is for people (empty when it completed); ``retryable``
    tells the task whether running it again later can help without anyone changing anything."""

    status: PhaseStatus
    reason: str = ""
    retryable: bool = False
    execution_id: int | None = None
    transcript_ids: tuple[int, ...] = ()
    summary: dict[str, Any] = field(default_factory=dict)
    #: Seconds the provider asked us to wait before calling again (a 429's Retry-After).
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "completed"


@dataclass
class Claim:
    """The item and its checkpoint, held by ``owner`` until the phase is recorded."""

    item: BacklogItem
    spec: PhaseSpec
    checkpoint: PhaseCheckpoint
    owner: str


@dataclass
class PhaseRun:
    """What a run produced, nothing of it stored yet. ``status`` is provisional: a reply that
    cannot be materialised still fails the phase when it is recorded."""

    claim: Claim
    status: PhaseStatus
    correlation_id: str
    actor: str
    reason: str = ""
    retryable: bool = False
    finished: FinishedRun | None = None
    phase_input: PhaseInput | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    outcome: str = ""
    recorder: AttemptRecorder | None = None
    retry_after: float | None = None


def spec_for(item: BacklogItem) -> PhaseSpec:
    """The phase spec that runs ``item``: its plan's pipeline's phase of that key.
    ``PipelineError`` names what is missing (a pipeline or phase no longer registered)."""
    return pipelines.get(item.plan.pipeline).phase(item.phase)


# --- claim ---------------------------------------------------------------------------------


def agent_contract(item: BacklogItem, backend: str, agent: AgentService) -> dict[str, str]:
    """The agent fields to record the first time the item runs (resume checks them); only
    those not recorded yet."""
    fields = {
        "agent_backend": item.agent_backend or backend,
        "agent_provider": item.agent_provider or agent.provider,
        "agent_model": item.agent_model or agent.model,
    }
    return {name: value for name, value in fields.items() if getattr(item, name) != value}


def claim(item: BacklogItem, spec: PhaseSpec, owner: str, contract: dict[str, str]) -> Claim | str:
    """Claim the item and its checkpoint for ``owner`` in one transaction. Returns the
    ``Claim``, or why not: ``claimed-elsewhere`` or ``already-complete``.

    An item that never ran has no checkpoint of its own, so the first try inserts one without
    looking; a key another worker (or a test) inserted first sends it to the look-up."""
    key = checkpoint_key(item, spec)
    for tried in range(2):
        found = find_checkpoint(item, key) if item.attempts or tried else None
        try:
            with transaction.atomic():
                if item.status == BacklogStatus.PENDING and not transition_backlog_item(
                    item,
                    BacklogStatus.IN_PROGRESS,
                    reason="phase-start",
                    actor=WORKER_ACTOR,
                    only_from=[BacklogStatus.PENDING],
                ):
                    return "claimed-elsewhere"
                if found is None:
                    checkpoint = new_checkpoint(item, key, owner=owner)
                else:
                    checkpoint = found
                    if checkpoint.status == PhaseCheckpoint.Status.COMPLETE:
                        logger.info("checkpoint %s is already complete", checkpoint.phase_key)
                        return "already-complete"
                    if not claim_checkpoint(checkpoint, owner):
                        logger.info("checkpoint %s is held by another worker", checkpoint.phase_key)
                        return "claimed-elsewhere"
                    checkpoint.attempts += 1
                BacklogItem.objects.filter(pk=item.pk).update(
                    attempts=F("attempts") + 1, heartbeat_at=timezone.now(), **contract
                )
                if item.attempts:
                    # Attempts still running belong to a worker that died: this claim
                    # replaces it (an item never claimed before has none).
                    interrupt_running_attempts(item)
        except IntegrityError:
            # Another worker inserted the same plan + phase key first: claim its row instead.
            item.refresh_from_db(fields=["status"])
            continue
        for name, value in contract.items():
            setattr(item, name, value)
        item.attempts += 1
        return Claim(item=item, spec=spec, checkpoint=checkpoint, owner=owner)
    return "claimed-elsewhere"


# --- run -----------------------------------------------------------------------------------


def run(
    claimed: Claim,
    agent: AgentService,
    *,
    correlation_id: str,
    actor: str = WORKER_ACTOR,
    heartbeat: bool = True,
    is_cancelled: Callable[[], bool] | None = None,
) -> PhaseRun:
    """Prepare the planner's parameters and run it under a heartbeat; never raises for an
    unsuccessful phase (a crash or a time limit becomes a failed ``PhaseRun``)."""
    item = claimed.item
    logger.info(
        "running %s (%s) of plan %s: attempt %s",
        item.backlog_id,
        item.phase,
        item.plan_id,
        claimed.checkpoint.attempts,
    )
    recorder = AttemptRecorder(agent, item, _base_metadata(claimed, correlation_id))
    beating = (
        PhaseHeartbeat(
            item.pk, claimed.checkpoint.pk, claimed.owner, settings.PIPELINE_HEARTBEAT_SECONDS
        )
        if heartbeat
        else contextlib.nullcontext()
    )
    try:
        with beating:
            return _run_planner(claimed, recorder, correlation_id, actor, is_cancelled)
    except AgentError as exc:
        reason, retryable = f"agent error: {exc}", not exc.permanent
        retry_after = exc.retry_after
    except SoftTimeLimitExceeded:
        limit = settings.PIPELINE_PHASE_TIME_LIMIT_SECONDS
        reason, retryable, retry_after = f"the phase ran longer than {limit}s", False, None
    except Exception as exc:
        logger.exception("phase %s of backlog item %s crashed", item.phase, item.backlog_id)
        reason, retryable, retry_after = f"{type(exc).__name__}: {exc}", False, None
    return PhaseRun(
        claimed,
        "failed",
        correlation_id,
        actor,
        reason=reason,
        retryable=retryable,
        outcome=PlannerOutcome.FAILED.value,
        recorder=recorder,
        retry_after=retry_after,
    )


def failed_run(claimed: Claim, reason: str, *, correlation_id: str) -> PhaseRun:
    """A run that could not start (no usable agent): recorded as failed, not retried."""
    return PhaseRun(
        claimed, "failed", correlation_id, WORKER_ACTOR, reason=reason, outcome="failed"
    )


def _run_planner(
    claimed: Claim,
    agent: AttemptRecorder,
    correlation_id: str,
    actor: str,
    is_cancelled: Callable[[], bool] | None,
) -> PhaseRun:
    item, spec = claimed.item, claimed.spec
    planner = catalog.get(spec.planner)
    try:
        phase_input = spec.runner.prepare(item)
    except PhaseBlocked as exc:
        return _blocked_before_agent(claimed, planner, agent, str(exc), correlation_id, actor)
    plan = item.plan
    context = PlannerContext.create(
        agent,
        correlation_id=correlation_id,
        plan=plan,
        backlog_item=item,
        phase=item.phase,
        actor=actor,
        iteration=phase_input.iteration,
        queued_jobs=_queued_jobs(item, planner.slug),
        metadata={"backlogItemId": item.backlog_id, "phase": item.phase, "branch": plan.branch},
    )
    if is_cancelled is not None:
        context.is_cancelled = is_cancelled
    finished = planner.run(context, phase_input.params)
    phase_run = PhaseRun(
        claimed,
        "failed",
        correlation_id,
        actor,
        reason=finished.result.error,
        finished=finished,
        phase_input=phase_input,
        attempts=[AttemptRecord.from_agent_attempt(a) for a in finished.result.attempts],
        outcome=finished.result.outcome.value,
        recorder=agent,
    )
    _judge(phase_run, finished)
    return phase_run


def _blocked_before_agent(
    claimed: Claim,
    planner: Any,
    agent: AttemptRecorder,
    reason: str,
    correlation_id: str,
    actor: str,
) -> PhaseRun:
    """The runner refused to prepare the phase (a gate, a missing row): blocked, one row."""
    item = claimed.item
    logger.info(
        "phase %s of item %s blocked before the agent: %s", item.phase, item.backlog_id, reason
    )
    template_id = planner.metadata.steps[0].template_id if planner.metadata.steps else ""
    return PhaseRun(
        claimed,
        "blocked",
        correlation_id,
        actor,
        reason=reason,
        attempts=[AttemptRecord.no_call(item, reason, template_id)],
        outcome="blocked",
        recorder=agent,
    )


def _judge(phase_run: PhaseRun, finished: FinishedRun) -> None:
    """How the planner's run ends the phase (provisional: materialising may still fail it)."""
    item, result, error = phase_run.claim.item, finished.result, finished.error
    if isinstance(error, AgentError):
        phase_run.reason = f"agent error (transient): {error}"
        phase_run.retryable = True
        phase_run.retry_after = error.retry_after
    elif error is not None:
        logger.error(
            "phase %s of item %s crashed: %s: %s",
            item.phase,
            item.backlog_id,
            type(error).__name__,
            error,
        )
        phase_run.reason = f"internal error: {type(error).__name__}: {error}"
    elif result.ok:
        phase_run.status, phase_run.reason = "completed", ""
    elif result.outcome == PlannerOutcome.BLOCKED:
        phase_run.status = "blocked"
    elif result.outcome == PlannerOutcome.CANCELLED:
        phase_run.status = "cancelled"
    elif result.outcome in (PlannerOutcome.THROTTLED, PlannerOutcome.REJECTED):
        phase_run.status = "skipped"
        phase_run.retryable = result.diagnostics.quota_limit == "max_queued_jobs"
    if not phase_run.attempts:
        # Parameters, quota or template rendering ended the run before any agent call.
        no_call = AttemptRecord.no_call(
            item,
            phase_run.reason,
            result.template_id,
            validation="" if error is None else PhaseTranscript.Validation.UNKNOWN,
        )
        no_call.template_version = result.template_version
        phase_run.attempts = [no_call]


def _queued_jobs(item: BacklogItem, planner_slug: str) -> int | None:
    """Other real items of the same phase running right now (the queued-jobs quota); None,
    uncounted, when no ``max_queued_jobs`` quota applies to the planner."""
    if quotas_for(planner_slug).max_queued_jobs is None:
        return None
    return (
        BacklogItem.objects.filter(
            phase=item.phase, status=BacklogStatus.IN_PROGRESS, synthetic=False
        )
        .exclude(pk=item.pk)
        .count()
    )


# --- record --------------------------------------------------------------------------------


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


def _base_metadata(claimed: Claim, correlation_id: str) -> dict[str, Any]:
    """What every transcript row of the phase carries from the moment its attempt starts."""
    item, plan = claimed.item, claimed.item.plan
    return {
        "backlogItemId": item.backlog_id,
        "backlogItemPk": item.pk,
        "planId": plan.pk,
        "pipeline": plan.pipeline,
        "phase": item.phase,
        "branch": plan.branch,
        "phaseKey": claimed.checkpoint.phase_key,
        "planner": claimed.spec.planner,
        "correlationId": correlation_id,
    }


def _transcript_metadata(phase_run: PhaseRun, materialised: Materialised) -> dict[str, Any]:
    metadata = {
        **_base_metadata(phase_run.claim, phase_run.correlation_id),
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
    item_status, checkpoint_status, transition_reason = _OUTCOMES.get(
        result.status, _OUTCOMES["failed"]
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
    """An item no registered pipeline can run (its pipeline or phase is gone): fail it with
    the reason, so the operator sees it instead of a task that errors for ever."""
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


# --- in-process ----------------------------------------------------------------------------


def run_item_phase(
    item: BacklogItem,
    agent: AgentService,
    *,
    correlation_id: str,
    actor: str = WORKER_ACTOR,
    owner: str = "",
) -> PhaseResult | str:
    """Claim, run and record ``item``'s phase in this process (no heartbeat, no retry): what
    the task does, for commands and tests. Returns the result, or why nothing ran."""
    try:
        spec = spec_for(item)
    except PipelineError as exc:
        fail_unrunnable(item, str(exc))
        return "unknown-phase"
    claimed = claim(
        item,
        spec,
        owner or f"local-{correlation_id}",
        agent_contract(item, item.agent_backend or "", agent),
    )
    if isinstance(claimed, str):
        return claimed
    phase_run = run(claimed, agent, correlation_id=correlation_id, actor=actor, heartbeat=False)
    return record(phase_run, retries=None)
