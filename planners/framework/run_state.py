"""``PlannerRun``: the state of one planner run, and the ways a run ends early.

The lifecycle (``planners.framework.run``) drives it; ``planners.framework.records`` turns it
into telemetry events and the execution row. The exceptions are internal to the framework:
``run_planner`` turns each into an outcome.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.utils import timezone
from pydantic import BaseModel

from cognition.agents.base import AgentError, ChatMessage
from planners.framework.admission import QuotaBreach
from planners.framework.context import PlannerContext
from planners.framework.hooks import PlannerHooks
from planners.framework.metadata import PlannerStep
from planners.framework.result import (
    AgentAttempt,
    AttemptKind,
    PlannerOutcome,
    PlannerResult,
    StepRun,
    TranscriptEntry,
)
from planners.models import TelemetryEvent


class RunCancelled(Exception):
    def __init__(self, step_id: str) -> None:
        super().__init__(f"cancelled before the agent call for step {step_id!r}")


class RunBlocked(Exception):
    def __init__(self, step_id: str, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(
            f"step {step_id!r}: the reply failed validation after one repair attempt: "
            + "; ".join(errors)
        )


class RunEnded(Exception):
    """The run ended before any agent call (bad params, quota, strict render)."""


class RenderFailed(Exception):
    """Strict rendering refused the template: a failed run naming the token."""


class PlannerRun:
    """The mutable state of one ``plan()`` call: what happened so far, and how to record it."""

    def __init__(self, planner: PlannerHooks[Any], context: PlannerContext) -> None:
        self.planner = planner
        self.context = context
        self.slug = planner.metadata.slug
        self.environment = context.environment or settings.DEPLOY_ENVIRONMENT
        self.correlation_id = context.correlation_id
        self.params: BaseModel | None = None
        self.started_at = timezone.now()
        self.clock = time.monotonic()
        self.result = PlannerResult(outcome=PlannerOutcome.FAILED)
        self.events: list[TelemetryEvent] = []
        self.replies: dict[str, Any] = {}
        self.conversations: dict[str, list[ChatMessage]] = {}
        self.details: list[str] = []
        self.critique_enabled = False
        self.provider = str(getattr(context.agent, "provider", "") or "")
        self.model = str(getattr(context.agent, "model", "") or "")
        self.ended = False

    # -- outcome -----------------------------------------------------------------------------

    def end(
        self, outcome: PlannerOutcome, error: str, *, details: Sequence[str] = (), limit: str = ""
    ) -> None:
        if self.ended:
            return
        self.ended = True
        self.result.outcome = outcome
        self.result.error = error
        self.result.diagnostics.quota_limit = limit
        self.details.extend(details)

    def stop_on_breach(self, breach: QuotaBreach | None) -> None:
        if breach is None:
            return
        self.end(breach.outcome, breach.message, limit=breach.limit)
        raise RunEnded

    # -- agent calls -------------------------------------------------------------------------

    def call_agent(
        self,
        step: PlannerStep,
        step_run: StepRun,
        messages: list[ChatMessage],
        *,
        kind: AttemptKind,
    ) -> AgentAttempt:
        """One agent call: cancellation check, attempt record, transcript, metrics."""
        if self.context.is_cancelled():
            raise RunCancelled(step.id)
        phase = "critique" if kind == "critique" else self.planner.agent_phase(step, self.context)
        step_run.attempts += 1
        attempt = AgentAttempt(
            step_id=step.id,
            attempt=step_run.attempts,
            is_retry=step_run.attempts > 1,
            messages=list(messages),
            template_id=step.template_id,
            template_version=step_run.template_version,
            kind=kind,
            phase=phase,
        )
        self.result.attempts.append(attempt)
        meta = {"step_id": step.id, "attempt": attempt.attempt, "kind": kind, "phase": phase}
        # The first call shows the whole prompt; repair/critique calls add one instruction.
        shown = messages if kind == "reply" else messages[-1:]
        for message in shown:
            self.result.transcript.append(
                TranscriptEntry(message.role, message.content, dict(meta))
            )
        try:
            reply = self.context.agent.chat(messages, phase=phase)
        except AgentError as exc:
            attempt.error = str(exc)
            self.result.transcript.append(
                TranscriptEntry("error", str(exc), {**meta, "permanent": exc.permanent})
            )
            raise
        attempt.response = reply.text
        attempt.prompt_tokens = reply.prompt_tokens
        attempt.completion_tokens = reply.completion_tokens
        attempt.latency_ms = reply.latency_ms
        self.provider, self.model = reply.provider or self.provider, reply.model or self.model
        metrics = self.result.metrics
        metrics.latency_ms += reply.latency_ms
        if kind == "critique":
            metrics.critique_count += 1
            metrics.critique_tokens += reply.prompt_tokens + reply.completion_tokens
            step_run.critique_count += 1
        else:
            metrics.prompt_tokens += reply.prompt_tokens
            metrics.completion_tokens += reply.completion_tokens
        self.result.transcript.append(TranscriptEntry("assistant", reply.text, dict(meta)))
        return attempt
