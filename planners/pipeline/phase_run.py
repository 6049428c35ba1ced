"""Step 2 of a phase, ``run``: the planner under a heartbeat. It writes nothing; every way a
run can end (a gate, a bad reply, an agent error, a crash, a time limit) is a ``PhaseRun``."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from cognition.agents.base import AgentError, AgentService
from planners.framework.base import FinishedRun
from planners.framework.catalog import catalog
from planners.framework.context import PlannerContext
from planners.framework.limits import quotas_for
from planners.models import BacklogItem, BacklogStatus, PhaseTranscript, PlannerOutcome
from planners.pipeline.attempts import AttemptRecorder
from planners.pipeline.heartbeat import PhaseHeartbeat
from planners.pipeline.phase_state import WORKER_ACTOR, Claim, PhaseRun, base_metadata
from planners.pipeline.registry import PhaseBlocked
from planners.pipeline.transcripts import AttemptRecord

logger = logging.getLogger(__name__)


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
    recorder = AttemptRecorder(agent, item, base_metadata(claimed, correlation_id))
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
