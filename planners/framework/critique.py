"""Self-critique of a valid reply, within the planner's critique budget (design.md §1).

A critique reply is either an approval or a complete replacement reply; a replacement that
validates is adopted (``revised``), one that does not is ignored and costs a round.
"""

from __future__ import annotations

from typing import Any

from cognition.agents.base import AgentError, ChatMessage
from planners.framework.admission import estimate_tokens
from planners.framework.errors import ReplyValidationError
from planners.framework.limits import UNBOUNDED_CRITIQUE_ROUNDS, CritiqueBudget
from planners.framework.metadata import PlannerStep
from planners.framework.result import CritiqueStatus, StepRun
from planners.framework.run_state import PlannerRun


def critique(
    run: PlannerRun, step: PlannerStep, step_run: StepRun, reply: Any, budget: CritiqueBudget
) -> Any:
    """Ask the agent to critique its valid reply until it approves or the budget ends; the
    reply to keep comes back."""
    if not budget.enabled:
        step_run.critique_status = CritiqueStatus.DISABLED
        return reply
    planner = run.planner
    per_step = budget.max_per_step
    if per_step is None and budget.max_total is None:
        per_step = UNBOUNDED_CRITIQUE_ROUNDS
    revised = False
    conversation = run.conversations[step.id]
    while True:
        request = [*conversation, ChatMessage("user", planner.critique_message(step))]
        stop = critique_stop_reason(run, budget, step_run, per_step, request)
        if stop:
            step_run.critique_status = (
                CritiqueStatus.REVISED if revised else CritiqueStatus.EXHAUSTED
            )
            run.details.append(f"step {step.id!r}: critique stopped: {stop}")
            return reply
        try:
            attempt = run.call_agent(step, step_run, request, kind="critique")
        except AgentError as exc:
            step_run.critique_status = CritiqueStatus.ERROR
            run.details.append(f"step {step.id!r}: critique call failed, reply kept: {exc}")
            return reply
        if planner.is_approval(attempt.response):
            attempt.validation_status = "skipped"
            step_run.critique_status = CritiqueStatus.REVISED if revised else CritiqueStatus.PASSED
            return reply
        try:
            candidate = planner.parse_reply(step, attempt.response)
        except ReplyValidationError as exc:
            attempt.validation_status = "failed"
            attempt.validation_details = exc.errors
            run.details.append(
                f"step {step.id!r}: critique revision rejected: {'; '.join(exc.errors)}"
            )
            continue
        attempt.validation_status = "passed"
        reply, revised = candidate, True
        conversation = [*conversation[:-1], ChatMessage("assistant", attempt.response)]


def critique_stop_reason(
    run: PlannerRun,
    budget: CritiqueBudget,
    step_run: StepRun,
    per_step: int | None,
    request: list[ChatMessage],
) -> str:
    """Why no further critique round may run ('' when one may)."""
    metrics = run.result.metrics
    if per_step is not None and step_run.critique_count >= per_step:
        return f"max_per_step reached ({per_step} critiques for this step)"
    if budget.max_total is not None and metrics.critique_count >= budget.max_total:
        return f"max_total reached ({budget.max_total} critiques in this run)"
    if budget.max_tokens is not None:
        needed = estimate_tokens("".join(m.content for m in request))
        if metrics.critique_tokens + needed > budget.max_tokens:
            return (
                f"max_tokens would be exceeded ({metrics.critique_tokens} critique tokens"
                f" spent, the next round needs about {needed}, budget {budget.max_tokens})"
            )
    return ""
