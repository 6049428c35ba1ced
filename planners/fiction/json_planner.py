"""What the four JSON-replying fiction planners share: prompt assembly and reply validation.

Each planner names its reply model once (``reply_model``); the prompt embeds the shape rendered
from that model and ``parse_reply`` validates against the same model, so the two cannot drift.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from planners.fiction.schemas import ReplyShapeError, parse_reply_json, render_shape
from planners.framework.base import PlannerBase
from planners.framework.context import PlannerContext
from planners.framework.errors import ReplyValidationError
from planners.framework.metadata import PlannerStep

ParamsT = TypeVar("ParamsT", bound=BaseModel)

#: What a blank variable renders as, so the model reads "nothing yet" rather than a gap.
BLANK = "(none yet)"

SYSTEM_MESSAGE = (
    "You are a meticulous fiction planning assistant. You answer in exactly the format asked "
    "for, with no commentary before or after it."
)


class FictionParams(BaseModel):
    """Base of the planners' parameters: one field per template variable, values as text."""

    model_config = ConfigDict(extra="forbid")


def json_reply_instructions(reply_model: type[BaseModel]) -> str:
    """The closing paragraph of every JSON prompt: the exact shape, from the reply model."""
    return (
        "Reply with a single JSON object and nothing else (a ```json code fence is fine). "
        "It must have exactly this shape; the values below describe what goes in each key:\n"
        f"{render_shape(reply_model)}"
    )


def step_variables(step: PlannerStep, params: BaseModel) -> dict[str, str]:
    """The step's ``{{tokens}}`` filled from ``params`` (same names), blanks shown as ``BLANK``."""
    values = params.model_dump()
    variables: dict[str, str] = {}
    for name in step.variables:
        value = values.get(name)
        text = "" if value is None else str(value).strip()
        variables[name] = text or BLANK
    return variables


class FictionJsonPlanner(PlannerBase[ParamsT]):
    """A fiction planner whose single step replies with JSON of ``reply_model``'s shape."""

    reply_model: ClassVar[type[BaseModel]]
    #: The task part of the built-in prompt, with ``{{tokens}}``; the shape is appended.
    prompt_text: ClassVar[str]
    system_message: ClassVar[str] = SYSTEM_MESSAGE

    def default_prompt(self, step: PlannerStep) -> str:
        return f"{self.prompt_text.strip()}\n\n{json_reply_instructions(self.reply_model)}\n"

    def template_variables(
        self, step: PlannerStep, params: ParamsT, context: PlannerContext
    ) -> dict[str, str]:
        return step_variables(step, params)

    def parse_reply(self, step: PlannerStep, text: str) -> Any:
        try:
            return parse_reply_json(text, self.reply_model)
        except ReplyShapeError as exc:
            raise ReplyValidationError(exc.errors) from exc
