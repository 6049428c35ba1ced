"""The planner run: the lifecycle of design.md §1 that every planner goes through.

1. validate the parameters; 2. check quotas; 3. resolve and strictly render each step's prompt
(falling back to the planner's built-in prompt when the template is missing, inactive or empty);
4. emit ``planner.started``, call the agent, validate the reply (one repair call on failure),
optionally self-critique within budget (``planners.framework.critique``); 5. emit the closing
event and build exactly one ``PlannerExecution`` row, whatever happened
(``planners.framework.records``). ``PlannerRun`` (``planners.framework.run_state``) is the
state the steps share.

``PlannerBase`` (``planners.framework.base``) holds the hooks a planner overrides; this module
owns *how* a run goes, so every planner gets the same quotas, fallbacks, telemetry and records.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from cognition.agents.base import AgentError, ChatMessage
from cognition.prompts import resolve_prompt
from cognition.templating import TemplateError, render_strict
from planners.framework import telemetry
from planners.framework.admission import check_admission, check_prompt_tokens, estimate_tokens
from planners.framework.context import PlannerContext
from planners.framework.critique import critique
from planners.framework.errors import PlannerParamsError, ReplyValidationError
from planners.framework.hooks import PlannerHooks
from planners.framework.limits import critique_budget_for, quotas_for
from planners.framework.metadata import PlannerStep
from planners.framework.records import FinishedRun, emit, finish
from planners.framework.result import CritiqueStatus, PlannerOutcome, PlannerResult, StepRun
from planners.framework.run_state import (
    PlannerRun,
    RenderFailed,
    RunBlocked,
    RunCancelled,
    RunEnded,
)

logger = logging.getLogger(__name__)


def result_of(exc: BaseException) -> PlannerResult | None:
    """The ``PlannerResult`` stored for a run that re-raised ``exc`` (None for other errors)."""
    result = getattr(exc, "planner_result", None)
    return result if isinstance(result, PlannerResult) else None


def run_planner(
    planner: PlannerHooks[Any], context: PlannerContext, params: BaseModel | Mapping[str, Any]
) -> FinishedRun:
    """Run the lifecycle without writing anything (see ``PlannerBase.run``). Never raises for
    a bad run; an error ``plan()`` would re-raise is kept as ``FinishedRun.error``."""
    run = PlannerRun(planner, context)
    error: BaseException | None = None
    try:
        _lifecycle(run, params)
    except RunEnded:
        pass
    except RenderFailed as exc:
        run.end(PlannerOutcome.FAILED, str(exc))
    except RunCancelled as exc:
        run.end(PlannerOutcome.CANCELLED, str(exc))
    except RunBlocked as exc:
        blocked = PlannerOutcome.PARTIAL if run.replies else PlannerOutcome.BLOCKED
        run.end(blocked, str(exc), details=exc.errors)
    except AgentError as exc:
        kind = "permanent" if exc.permanent else "transient"
        status = f", HTTP {exc.status_code}" if exc.status_code else ""
        run.end(PlannerOutcome.FAILED, f"agent error ({kind}{status}): {exc}")
        if not exc.permanent:
            error = exc
    except Exception as exc:
        logger.exception("planner %s crashed (correlation %s)", run.slug, run.correlation_id)
        run.end(PlannerOutcome.FAILED, f"internal error: {type(exc).__name__}: {exc}")
        error = exc
    return finish(run, error)


def _lifecycle(run: PlannerRun, raw_params: BaseModel | Mapping[str, Any]) -> None:
    planner = run.planner
    budget = critique_budget_for(run.slug)
    run.critique_enabled = budget.enabled

    # 1. parameters
    try:
        params = planner.validate_params(raw_params)
    except PlannerParamsError as exc:
        run.end(PlannerOutcome.FAILED, str(exc), details=exc.errors)
        raise RunEnded from exc
    run.params = params

    # 2. quotas
    quotas = quotas_for(run.slug)
    run.stop_on_breach(
        check_admission(
            quotas,
            planner_slug=run.slug,
            iteration=run.context.iteration,
            queued_jobs=run.context.queued_jobs or 0,
        )
    )

    # 3. prompts, strictly rendered, before anything is spent
    prompts: list[tuple[PlannerStep, StepRun, str]] = []
    for step in planner.steps_to_run(params, run.context):
        step_run = StepRun(step_id=step.id, template_id=step.template_id)
        if not budget.enabled:
            step_run.critique_status = CritiqueStatus.DISABLED
        run.result.steps.append(step_run)
        prompts.append((step, step_run, _render(run, step, step_run, params)))
    run.stop_on_breach(
        check_prompt_tokens(
            quotas,
            planner_slug=run.slug,
            prompt_tokens=sum(estimate_tokens(p) for _, _, p in prompts),
        )
    )

    # 4. started; agent; validation; repair; critique
    emit(run, telemetry.STARTED)
    for step, step_run, prompt in prompts:
        messages = planner.build_messages(step, prompt, params, run.context)
        reply = _call_and_validate(run, step, step_run, messages)
        run.replies[step.id] = critique(run, step, step_run, reply, budget)
    run.end(PlannerOutcome.SUCCESS, "")


def _render(run: PlannerRun, step: PlannerStep, step_run: StepRun, params: Any) -> str:
    planner = run.planner
    resolved = resolve_prompt(step.template_id)
    if resolved is None:
        step_run.used_fallback = True
        text = planner.default_prompt(step)
        source = "built-in fallback prompt"
        logger.warning(
            "planner %s step %s: template %s is missing, inactive or empty; using the "
            "built-in fallback prompt",
            run.slug,
            step.id,
            step.template_id,
        )
    else:
        step_run.template_version = resolved.version
        text = resolved.text
        source = f"version {resolved.version}"
    try:
        variables = planner.template_variables(step, params, run.context)
        return render_strict(text, variables, allowed=set(step.variables))
    except TemplateError as exc:
        raise RenderFailed(
            f"template {step.template_id!r} ({source}) for step {step.id!r}: {exc}"
        ) from exc


def _call_and_validate(
    run: PlannerRun, step: PlannerStep, step_run: StepRun, messages: list[ChatMessage]
) -> Any:
    """The step's reply, validated; one repair call when the first reply fails validation."""
    planner = run.planner
    attempt = run.call_agent(step, step_run, messages, kind="reply")
    try:
        reply = planner.parse_reply(step, attempt.response)
    except ReplyValidationError as exc:
        attempt.validation_status = "failed"
        attempt.validation_details = exc.errors
        repair = [
            *messages,
            ChatMessage("assistant", attempt.response),
            ChatMessage("user", planner.repair_message(step, exc.errors)),
        ]
        second = run.call_agent(step, step_run, repair, kind="repair")
        try:
            reply = planner.parse_reply(step, second.response)
        except ReplyValidationError as again:
            second.validation_status = "failed"
            second.validation_details = again.errors
            step_run.validation_status = "failed"
            step_run.validation_details = again.errors
            raise RunBlocked(step.id, again.errors) from again
        second.validation_status = "passed"
        run.conversations[step.id] = [*repair, ChatMessage("assistant", second.response)]
    else:
        attempt.validation_status = "passed"
        run.conversations[step.id] = [*messages, ChatMessage("assistant", attempt.response)]
    step_run.validation_status = "passed"
    step_run.validation_details = []
    return reply
