"""``PlannerBase``: the lifecycle every planner runs, in the order of design.md §1.

1. validate the parameters; 2. check quotas; 3. resolve and strictly render each step's prompt
(falling back to the planner's built-in prompt when the template is missing, inactive or empty);
4. emit ``planner.started``, call the agent, validate the reply (one repair call on failure),
optionally self-critique within budget; 5. emit the closing event and persist exactly one
``PlannerExecution`` row, whatever happened.

Subclasses describe *what* to ask and how to read the answer (``default_prompt``,
``template_variables``, ``parse_reply``); the base class owns *how* a run goes, so every planner
gets the same quotas, fallbacks, telemetry and records.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from pydantic import BaseModel, ValidationError

from cognition.agents.base import AgentError, ChatMessage
from cognition.prompts import resolve_prompt
from cognition.templating import TemplateError, check_text, find_variables, render_strict
from planners.framework import telemetry
from planners.framework.admission import (
    QuotaBreach,
    check_admission,
    check_prompt_tokens,
    estimate_tokens,
)
from planners.framework.context import PlannerContext
from planners.framework.errors import (
    PlannerDefinitionError,
    PlannerParamsError,
    ReplyValidationError,
)
from planners.framework.limits import (
    UNBOUNDED_CRITIQUE_ROUNDS,
    CritiqueBudget,
    critique_budget_for,
    quotas_for,
)
from planners.framework.metadata import PlannerMetadata, PlannerStep
from planners.framework.result import (
    AgentAttempt,
    AttemptKind,
    CritiqueStatus,
    PlannerOutcome,
    PlannerResult,
    StepRun,
    TranscriptEntry,
)
from planners.models import PlannerExecution, TelemetryEvent

logger = logging.getLogger(__name__)

ParamsT = TypeVar("ParamsT", bound=BaseModel)

_APPROVAL_RE = re.compile(r"^\W*approved\b", re.IGNORECASE)

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


def result_of(exc: BaseException) -> PlannerResult | None:
    """The ``PlannerResult`` stored for a run that re-raised ``exc`` (None for other errors)."""
    result = getattr(exc, "planner_result", None)
    return result if isinstance(result, PlannerResult) else None


class _Cancelled(Exception):
    def __init__(self, step_id: str) -> None:
        super().__init__(f"cancelled before the agent call for step {step_id!r}")


class _Blocked(Exception):
    def __init__(self, step_id: str, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(
            f"step {step_id!r}: the reply failed validation after one repair attempt: "
            + "; ".join(errors)
        )


class _Ended(Exception):
    """The run ended before any agent call (bad params, quota, strict render)."""


class PlannerBase(Generic[ParamsT]):
    """Base class of every planner. See the module docstring for the lifecycle.

    Class attributes: ``metadata`` (what the catalog shows), ``params_model`` (a pydantic model
    of the parameters), ``phase`` (the agent phase key, e.g. ``chapterArchitect``; defaults to
    the context's phase, then the slug) and ``system_message`` (sent first when not empty).
    """

    metadata: ClassVar[PlannerMetadata]
    params_model: type[ParamsT]
    phase: ClassVar[str] = ""
    system_message: ClassVar[str] = ""

    # -- hooks for subclasses ----------------------------------------------------------------

    def default_prompt(self, step: PlannerStep) -> str:
        """The built-in prompt text with ``{{tokens}}``: both the seeded template text and the
        fallback used when the template is missing, inactive or empty."""
        raise NotImplementedError(f"{type(self).__qualname__} must define default_prompt()")

    def template_variables(
        self, step: PlannerStep, params: ParamsT, context: PlannerContext
    ) -> dict[str, str]:
        """Values for the step's ``{{tokens}}``."""
        raise NotImplementedError(f"{type(self).__qualname__} must define template_variables()")

    def parse_reply(self, step: PlannerStep, text: str) -> Any:
        """Validate the agent's reply and return the object the runner materialises.

        Raise ``ReplyValidationError`` with errors naming each bad or missing key. The default
        accepts any non-empty text (Markdown planners check more in their own override).
        """
        if not text.strip():
            raise ReplyValidationError(["the reply is empty"])
        return text.strip()

    def build_messages(
        self, step: PlannerStep, prompt: str, params: ParamsT, context: PlannerContext
    ) -> list[ChatMessage]:
        """The conversation for the first call of ``step``."""
        messages = []
        if self.system_message:
            messages.append(ChatMessage("system", self.system_message))
        messages.append(ChatMessage("user", prompt))
        return messages

    def repair_message(self, step: PlannerStep, errors: Sequence[str]) -> str:
        """What to tell the agent when its reply failed validation (the one repair attempt)."""
        listed = "\n".join(f"- {e}" for e in errors)
        return (
            "Your reply did not pass validation:\n"
            f"{listed}\n"
            "Reply again with the complete corrected reply, in exactly the requested format, "
            "fixing every problem listed. Do not add commentary."
        )

    def critique_message(self, step: PlannerStep) -> str:
        """What to ask the agent in a self-critique round."""
        return (
            "Critique your reply above against the task and the required format. If it fully "
            "satisfies both, answer with the single word APPROVED. Otherwise answer with the "
            "complete improved reply, in exactly the requested format, and nothing else."
        )

    def is_approval(self, text: str) -> bool:
        """True when a critique reply approves the reply as it is."""
        first_line = text.strip().splitlines()[0] if text.strip() else ""
        return bool(_APPROVAL_RE.match(first_line)) and len(first_line) <= 80

    def steps_to_run(self, params: ParamsT, context: PlannerContext) -> Sequence[PlannerStep]:
        """The steps this run makes, in order (all declared steps by default)."""
        return self.metadata.steps

    def agent_phase(self, step: PlannerStep, context: PlannerContext) -> str:
        """The ``phase`` passed to ``AgentService.chat`` (scripted replies are keyed by it)."""
        return self.phase or context.phase or self.metadata.slug

    def artifact_json(self, step: PlannerStep, reply: Any) -> Any:
        """The JSON form of a validated reply, stored on the execution row."""
        if isinstance(reply, BaseModel):
            return reply.model_dump(mode="json")
        if reply is None or isinstance(reply, str | int | float | bool | list | dict):
            return reply
        return repr(reply)

    # -- framework ---------------------------------------------------------------------------

    @property
    def slug(self) -> str:
        return self.metadata.slug

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} {self.metadata.slug!r}>"

    def check_definition(self) -> None:
        """Refuse a malformed planner at registration (i.e. at start-up), not at its first run.

        Checks the metadata and params model, and that each step's fallback prompt is valid
        text using only the step's declared variables, since a fallback that cannot render
        would turn every missing template into a failed run.
        """
        name = type(self).__qualname__
        meta = getattr(type(self), "metadata", None)
        if not isinstance(meta, PlannerMetadata):
            raise PlannerDefinitionError(f"{name}.metadata must be a PlannerMetadata.")
        model = getattr(type(self), "params_model", None)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise PlannerDefinitionError(f"{name}.params_model must be a pydantic BaseModel.")
        for step in meta.steps:
            try:
                text = self.default_prompt(step)
                check_text(text)
            except (TemplateError, NotImplementedError) as exc:
                raise PlannerDefinitionError(
                    f"Planner {meta.slug!r} step {step.id!r}: fallback prompt is unusable: {exc}"
                ) from exc
            undeclared = [t for t in find_variables(text) if t not in step.variables]
            if undeclared:
                raise PlannerDefinitionError(
                    f"Planner {meta.slug!r} step {step.id!r}: fallback prompt uses undeclared "
                    f"variable(s) {', '.join(undeclared)}; add them to PlannerStep.variables."
                )

    def validate_params(self, params: ParamsT | Mapping[str, Any]) -> ParamsT:
        """The parameters as ``params_model``; ``PlannerParamsError`` names every bad field."""
        if isinstance(params, self.params_model):
            return params
        if isinstance(params, BaseModel):
            params = params.model_dump()
        if not isinstance(params, Mapping):
            raise PlannerParamsError(
                self.slug, [f"expected a mapping of parameters, got {type(params).__name__}"]
            )
        try:
            return self.params_model.model_validate(dict(params))
        except ValidationError as exc:
            errors = []
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"]) or "(parameters)"
                errors.append(f"field {where!r}: {error['msg']}")
            raise PlannerParamsError(self.slug, errors) from None

    def plan(self, context: PlannerContext, params: ParamsT | Mapping[str, Any]) -> PlannerResult:
        """Run the lifecycle and return the result; the execution row is ``result.execution``.

        Never raises for a bad run: bad params, quota breaches, template errors, validation
        failures and permanent agent errors come back as outcomes. A *transient* ``AgentError``
        is re-raised after the failed execution row is stored, so a Celery task can retry; a bug
        in a hook is re-raised the same way. A re-raised exception carries the stored run as
        ``exc.planner_result`` (see ``result_of``). Do not call this inside a transaction you
        roll back on error, or the execution row goes with it.
        """
        run = self.run(context, params)
        with transaction.atomic():
            run.save()
        run.raise_error()
        return run.result

    def run(self, context: PlannerContext, params: ParamsT | Mapping[str, Any]) -> FinishedRun:
        """Run the lifecycle without writing anything: the execution row and the telemetry
        events come back unsaved, to be stored with ``FinishedRun.save()`` in the caller's
        transaction (a pipeline phase stores them with everything else the phase writes, in
        one commit). Never raises for a bad run; an error ``plan()`` would re-raise is kept as
        ``FinishedRun.error``."""
        run = _PlannerRun(self, context)
        error: BaseException | None = None
        try:
            self._lifecycle(run, params)
        except _Ended:
            pass
        except _RenderFailed as exc:
            run.end(PlannerOutcome.FAILED, str(exc))
        except _Cancelled as exc:
            run.end(PlannerOutcome.CANCELLED, str(exc))
        except _Blocked as exc:
            blocked = PlannerOutcome.PARTIAL if run.replies else PlannerOutcome.BLOCKED
            run.end(blocked, str(exc), details=exc.errors)
        except AgentError as exc:
            kind = "permanent" if exc.permanent else "transient"
            status = f", HTTP {exc.status_code}" if exc.status_code else ""
            run.end(PlannerOutcome.FAILED, f"agent error ({kind}{status}): {exc}")
            if not exc.permanent:
                error = exc
        except Exception as exc:
            logger.exception("planner %s crashed (correlation %s)", self.slug, run.correlation_id)
            run.end(PlannerOutcome.FAILED, f"internal error: {type(exc).__name__}: {exc}")
            error = exc
        return run.finish(error)

    # -- the lifecycle -----------------------------------------------------------------------

    def _lifecycle(self, run: _PlannerRun, raw_params: ParamsT | Mapping[str, Any]) -> None:
        budget = critique_budget_for(self.slug)
        run.critique_enabled = budget.enabled

        # 1. parameters
        try:
            params = self.validate_params(raw_params)
        except PlannerParamsError as exc:
            run.end(PlannerOutcome.FAILED, str(exc), details=exc.errors)
            raise _Ended from exc
        run.params = params

        # 2. quotas
        quotas = quotas_for(self.slug)
        run.stop_on_breach(
            check_admission(
                quotas,
                planner_slug=self.slug,
                iteration=run.context.iteration,
                queued_jobs=run.context.queued_jobs or 0,
            )
        )

        # 3. prompts, strictly rendered, before anything is spent
        prompts: list[tuple[PlannerStep, StepRun, str]] = []
        for step in self.steps_to_run(params, run.context):
            step_run = StepRun(step_id=step.id, template_id=step.template_id)
            if not budget.enabled:
                step_run.critique_status = CritiqueStatus.DISABLED
            run.result.steps.append(step_run)
            prompts.append((step, step_run, self._render(step, step_run, params, run.context)))
        run.stop_on_breach(
            check_prompt_tokens(
                quotas,
                planner_slug=self.slug,
                prompt_tokens=sum(estimate_tokens(p) for _, _, p in prompts),
            )
        )

        # 4. started; agent; validation; repair; critique
        run.emit(telemetry.STARTED)
        for step, step_run, prompt in prompts:
            messages = self.build_messages(step, prompt, params, run.context)
            reply = self._call_and_validate(run, step, step_run, messages)
            reply = self._critique(run, step, step_run, reply, budget)
            run.replies[step.id] = reply
        run.end(PlannerOutcome.SUCCESS, "")

    def _render(
        self, step: PlannerStep, step_run: StepRun, params: ParamsT, context: PlannerContext
    ) -> str:
        resolved = resolve_prompt(step.template_id)
        if resolved is None:
            step_run.used_fallback = True
            text = self.default_prompt(step)
            source = "built-in fallback prompt"
            logger.warning(
                "planner %s step %s: template %s is missing, inactive or empty; using the "
                "built-in fallback prompt",
                self.slug,
                step.id,
                step.template_id,
            )
        else:
            step_run.template_version = resolved.version
            text = resolved.text
            source = f"version {resolved.version}"
        try:
            variables = self.template_variables(step, params, context)
            return render_strict(text, variables, allowed=set(step.variables))
        except TemplateError as exc:
            raise _RenderFailed(
                f"template {step.template_id!r} ({source}) for step {step.id!r}: {exc}"
            ) from exc

    def _call_and_validate(
        self,
        run: _PlannerRun,
        step: PlannerStep,
        step_run: StepRun,
        messages: list[ChatMessage],
    ) -> Any:
        attempt = run.call_agent(step, step_run, messages, kind="reply")
        try:
            reply = self.parse_reply(step, attempt.response)
        except ReplyValidationError as exc:
            attempt.validation_status = "failed"
            attempt.validation_details = exc.errors
            repair = [
                *messages,
                ChatMessage("assistant", attempt.response),
                ChatMessage("user", self.repair_message(step, exc.errors)),
            ]
            second = run.call_agent(step, step_run, repair, kind="repair")
            try:
                reply = self.parse_reply(step, second.response)
            except ReplyValidationError as again:
                second.validation_status = "failed"
                second.validation_details = again.errors
                step_run.validation_status = "failed"
                step_run.validation_details = again.errors
                raise _Blocked(step.id, again.errors) from again
            second.validation_status = "passed"
            run.conversations[step.id] = [*repair, ChatMessage("assistant", second.response)]
        else:
            attempt.validation_status = "passed"
            run.conversations[step.id] = [*messages, ChatMessage("assistant", attempt.response)]
        step_run.validation_status = "passed"
        step_run.validation_details = []
        return reply

    def _critique(
        self,
        run: _PlannerRun,
        step: PlannerStep,
        step_run: StepRun,
        reply: Any,
        budget: CritiqueBudget,
    ) -> Any:
        """Ask the agent to critique its valid reply until it approves or the budget ends.

        A critique reply is either an approval or a complete replacement reply; a replacement
        that validates is adopted (``revised``), one that does not is ignored and costs a round.
        """
        if not budget.enabled:
            step_run.critique_status = CritiqueStatus.DISABLED
            return reply
        per_step = budget.max_per_step
        if per_step is None and budget.max_total is None:
            per_step = UNBOUNDED_CRITIQUE_ROUNDS
        revised = False
        conversation = run.conversations[step.id]
        while True:
            request = [*conversation, ChatMessage("user", self.critique_message(step))]
            stop = run.critique_stop_reason(budget, step_run, per_step, request)
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
            if self.is_approval(attempt.response):
                attempt.validation_status = "skipped"
                step_run.critique_status = (
                    CritiqueStatus.REVISED if revised else CritiqueStatus.PASSED
                )
                return reply
            try:
                candidate = self.parse_reply(step, attempt.response)
            except ReplyValidationError as exc:
                attempt.validation_status = "failed"
                attempt.validation_details = exc.errors
                run.details.append(
                    f"step {step.id!r}: critique revision rejected: {'; '.join(exc.errors)}"
                )
                continue
            attempt.validation_status = "passed"
            reply, revised = candidate, True
            conversation = [
                *conversation[:-1],
                ChatMessage("assistant", attempt.response),
            ]


class _RenderFailed(Exception):
    """Strict rendering refused the template: a failed run naming the token."""


class _PlannerRun:
    """The mutable state of one ``plan()`` call: what happened so far, and how to record it."""

    def __init__(self, planner: PlannerBase[Any], context: PlannerContext) -> None:
        self.planner = planner
        self.context = context
        self.slug = planner.metadata.slug
        self.environment = context.environment or settings.DEPLOY_ENVIRONMENT
        self.correlation_id = context.correlation_id
        self.params: BaseModel | None = None
        self.started_at = timezone.now()
        self._clock = time.monotonic()
        self.result = PlannerResult(outcome=PlannerOutcome.FAILED)
        self.events: list[TelemetryEvent] = []
        self.replies: dict[str, Any] = {}
        self.conversations: dict[str, list[ChatMessage]] = {}
        self.details: list[str] = []
        self.critique_enabled = False
        self.provider = str(getattr(context.agent, "provider", "") or "")
        self.model = str(getattr(context.agent, "model", "") or "")
        self._ended = False

    # -- outcome -----------------------------------------------------------------------------

    def end(
        self, outcome: PlannerOutcome, error: str, *, details: Sequence[str] = (), limit: str = ""
    ) -> None:
        if self._ended:
            return
        self._ended = True
        self.result.outcome = outcome
        self.result.error = error
        self.result.diagnostics.quota_limit = limit
        self.details.extend(details)

    def stop_on_breach(self, breach: QuotaBreach | None) -> None:
        if breach is None:
            return
        self.end(breach.outcome, breach.message, limit=breach.limit)
        raise _Ended

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
            raise _Cancelled(step.id)
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

    def critique_stop_reason(
        self,
        budget: CritiqueBudget,
        step_run: StepRun,
        per_step: int | None,
        request: list[ChatMessage],
    ) -> str:
        """Why no further critique round may run ('' when one may)."""
        metrics = self.result.metrics
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

    # -- telemetry and persistence -----------------------------------------------------------

    def _event_payload(self) -> dict[str, Any]:
        result, context = self.result, self.context
        payload: dict[str, Any] = {
            "outcome": result.outcome.value if self._ended else "",
            "template_id": result.template_id,
            "template_version": result.template_version,
            "used_fallback": result.used_fallback,
            "iteration": context.iteration,
            "plan_id": context.plan.pk if context.plan is not None else None,
            "backlog_item_id": context.backlog_item.pk if context.backlog_item else None,
            "actor": context.actor,
            "tags": dict(self.planner.metadata.telemetry_tags),
        }
        if self._ended:
            payload.update(
                error=result.error,
                quota_limit=result.diagnostics.quota_limit,
                critique_status=result.diagnostics.critique_status,
                **result.metrics.to_json(),
            )
        return payload

    def emit(self, name: str) -> None:
        self.events.append(
            telemetry.new_event(
                name,
                planner_slug=self.slug,
                correlation_id=self.correlation_id,
                environment=self.environment,
                payload=self._event_payload(),
            )
        )

    def _summarise(self) -> None:
        result = self.result
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
            CritiqueStatus.SKIPPED if self.critique_enabled else CritiqueStatus.DISABLED
        }
        diagnostics.critique_status = next(s for s in _CRITIQUE_PRIORITY if s in present)
        diagnostics.details = list(self.details)
        result.metrics.duration_ms = int((time.monotonic() - self._clock) * 1000)
        if self.replies:
            last = next(reversed(self.replies))
            result.artifacts = {"reply": self.replies[last], "replies": dict(self.replies)}

    def finish(self, error: BaseException | None) -> FinishedRun:
        """Emit the closing event and build the one execution row (stored by the caller)."""
        if not self._ended:
            self.end(PlannerOutcome.FAILED, "the run ended without an outcome")
        self._summarise()
        result = self.result
        self.emit(_END_EVENTS[result.outcome])
        meta = self.planner.metadata
        steps_json = [s.to_json() for s in result.steps]
        replies_json = {
            step_id: self.planner.artifact_json(meta.step(step_id), reply)
            for step_id, reply in self.replies.items()
        }
        params_json = self.params.model_dump(mode="json") if self.params is not None else None
        execution = PlannerExecution(
            planner_slug=self.slug,
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
                "steps": steps_json,
                "attempts": [a.to_json() for a in result.attempts],
                "params": params_json,
                "iteration": self.context.iteration,
                "queued_jobs": self.context.queued_jobs,
                "actor": self.context.actor,
            },
            transcript=[entry.to_json() for entry in result.transcript],
            artifacts={"replies": replies_json},
            error=result.error,
            environment=self.environment,
            correlation_id=self.correlation_id,
            agent_provider=self.provider[:32],
            agent_model=self.model[:100],
            plan=self.context.plan,
            backlog_item=self.context.backlog_item,
            synthetic=self.context.synthetic,
            started_at=self.started_at,
            finished_at=timezone.now(),
        )
        return FinishedRun(result, execution, self.events, error)


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
