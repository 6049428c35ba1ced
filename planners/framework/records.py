"""What a planner run leaves behind: its telemetry events and its one ``PlannerExecution`` row.

``FinishedRun`` holds them unsaved until the caller stores them in its own transaction.
"""

from __future__ import annotations

import time
from typing import Any

from django.utils import timezone

from planners.framework import telemetry
from planners.framework.result import CritiqueStatus, PlannerOutcome, PlannerResult
from planners.framework.run_state import PlannerRun
from planners.models import PlannerExecution, TelemetryEvent

_END_EVENTS = {
    PlannerOutcome.SUCCESS: telemetry.COMPLETED,
    PlannerOutcome.PARTIAL: telemetry.COMPLETED,
    PlannerOutcome.THROTTLED: telemetry.THROTTLED,
    PlannerOutcome.REJECTED: telemetry.REJECTED,
    PlannerOutcome.BLOCKED: telemetry.FAILED,
    PlannerOutcome.FAILED: telemetry.FAILED,
    PlannerOutcome.CANCELLED: telemetry.FAILED,
}

# When steps disagree, the run reports the status an operator most needs to see.
_CRITIQUE_PRIORITY = [
    CritiqueStatus.ERROR,
    CritiqueStatus.EXHAUSTED,
    CritiqueStatus.REVISED,
    CritiqueStatus.PASSED,
    CritiqueStatus.DISABLED,
    CritiqueStatus.SKIPPED,
]


class FinishedRun:
    """A finished ``plan()`` run before anything is stored: the result, its execution row and
    its telemetry events. ``save()`` writes them (call it inside a transaction: the execution
    and its events go together); ``raise_error()`` re-raises what ``plan()`` would."""

    def __init__(
        self,
        result: PlannerResult,
        execution: PlannerExecution,
        events: list[TelemetryEvent],
        error: BaseException | None,
    ) -> None:
        self.result = result
        self.execution = execution
        self.events = events
        self.error = error

    def save(self) -> PlannerExecution:
        self.execution.save(force_insert=True)
        telemetry.save_events(self.events, self.execution)
        self.result.execution = self.execution
        return self.execution

    def raise_error(self) -> None:
        """Re-raise a transient agent error or a hook's bug, carrying the stored run."""
        if self.error is not None:
            self.error.planner_result = self.result  # type: ignore[attr-defined]
            raise self.error


def emit(run: PlannerRun, name: str) -> None:
    """Add a ``planner.*`` telemetry event to the run (stored with its execution row)."""
    run.events.append(
        telemetry.new_event(
            name,
            planner_slug=run.slug,
            correlation_id=run.correlation_id,
            environment=run.environment,
            payload=event_payload(run),
        )
    )


def finish(run: PlannerRun, error: BaseException | None) -> FinishedRun:
    """Emit the closing event and build the one execution row (stored by the caller)."""
    if not run.ended:
        run.end(PlannerOutcome.FAILED, "the run ended without an outcome")
    summarise(run)
    emit(run, _END_EVENTS[run.result.outcome])
    return FinishedRun(run.result, execution_row(run), run.events, error)


def event_payload(run: PlannerRun) -> dict[str, Any]:
    """The payload of a ``planner.*`` telemetry event; the closing one carries the outcome."""
    result, context = run.result, run.context
    payload: dict[str, Any] = {
        "outcome": result.outcome.value if run.ended else "",
        "template_id": result.template_id,
        "template_version": result.template_version,
        "used_fallback": result.used_fallback,
        "iteration": context.iteration,
        "plan_id": context.plan.pk if context.plan is not None else None,
        "backlog_item_id": context.backlog_item.pk if context.backlog_item else None,
        "actor": context.actor,
        "tags": dict(run.planner.metadata.telemetry_tags),
    }
    if run.ended:
        payload.update(
            error=result.error,
            quota_limit=result.diagnostics.quota_limit,
            critique_status=result.diagnostics.critique_status,
            **result.metrics.to_json(),
        )
    return payload


def summarise(run: PlannerRun) -> None:
    """Fill the result's diagnostics, duration and artifacts from what the steps recorded."""
    result = run.result
    steps = result.steps
    statuses = {s.validation_status for s in steps}
    diagnostics = result.diagnostics
    if "failed" in statuses:
        diagnostics.validation_status = "failed"
    elif "passed" in statuses:
        diagnostics.validation_status = "passed"
    elif any(a.error for a in result.attempts):
        diagnostics.validation_status = "unknown"
    else:
        diagnostics.validation_status = "skipped"
    failing = [s for s in steps if s.validation_status == "failed"]
    if failing:
        diagnostics.validation_summary = "; ".join(
            f"{s.step_id}: {', '.join(s.validation_details)}" for s in failing
        )
    elif diagnostics.validation_status == "passed":
        diagnostics.validation_summary = f"{len(steps)} step(s) validated"
    else:
        diagnostics.validation_summary = result.error
    present = {s.critique_status for s in steps} or {
        CritiqueStatus.SKIPPED if run.critique_enabled else CritiqueStatus.DISABLED
    }
    diagnostics.critique_status = next(s for s in _CRITIQUE_PRIORITY if s in present)
    diagnostics.details = list(run.details)
    result.metrics.duration_ms = int((time.monotonic() - run.clock) * 1000)
    if run.replies:
        last = next(reversed(run.replies))
        result.artifacts = {"reply": run.replies[last], "replies": dict(run.replies)}


def execution_row(run: PlannerRun) -> PlannerExecution:
    """The run's one ``PlannerExecution`` row, unsaved."""
    result, context, meta = run.result, run.context, run.planner.metadata
    replies_json = {
        step_id: run.planner.artifact_json(meta.step(step_id), reply)
        for step_id, reply in run.replies.items()
    }
    params_json = run.params.model_dump(mode="json") if run.params is not None else None
    return PlannerExecution(
        planner_slug=run.slug,
        outcome=result.outcome,
        template_id=result.template_id or meta.steps[0].template_id,
        template_version=result.template_version,
        used_fallback=result.used_fallback,
        duration_ms=result.metrics.duration_ms,
        latency_ms=result.metrics.latency_ms,
        prompt_tokens=result.metrics.prompt_tokens,
        completion_tokens=result.metrics.completion_tokens,
        critique_count=result.metrics.critique_count,
        critique_tokens=result.metrics.critique_tokens,
        critique_status=result.diagnostics.critique_status,
        validation_status=result.diagnostics.validation_status,
        quota_limit=result.diagnostics.quota_limit,
        diagnostics={
            **result.diagnostics.to_json(),
            "steps": [s.to_json() for s in result.steps],
            "attempts": [a.to_json() for a in result.attempts],
            "params": params_json,
            "iteration": context.iteration,
            "queued_jobs": context.queued_jobs,
            "actor": context.actor,
        },
        transcript=[entry.to_json() for entry in result.transcript],
        artifacts={"replies": replies_json},
        error=result.error,
        environment=run.environment,
        correlation_id=run.correlation_id,
        agent_provider=run.provider[:32],
        agent_model=run.model[:100],
        plan=context.plan,
        backlog_item=context.backlog_item,
        synthetic=context.synthetic,
        started_at=run.started_at,
        finished_at=timezone.now(),
    )
