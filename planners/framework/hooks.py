"""The hooks a planner overrides: what to ask, and how to read the answer.

``PlannerHooks`` is the part of ``PlannerBase`` the run (``planners.framework.run``) calls:
``default_prompt``, ``template_variables``, ``parse_reply`` and the optional ones, with the
planner's definition checks and parameter validation. Planners derive from ``PlannerBase``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from cognition.agents.base import ChatMessage
from cognition.templating import TemplateError, check_text, find_variables
from planners.framework.context import PlannerContext
from planners.framework.errors import (
    PlannerDefinitionError,
    PlannerParamsError,
    ReplyValidationError,
)
from planners.framework.metadata import PlannerMetadata, PlannerStep

ParamsT = TypeVar("ParamsT", bound=BaseModel)

_APPROVAL_RE = re.compile(r"^\W*approved\b", re.IGNORECASE)


class PlannerHooks(Generic[ParamsT]):
    """What a planner says about itself and the hooks it overrides; ``PlannerBase`` adds the
    entry points. See ``planners.framework.run`` for the lifecycle that calls the hooks.

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
