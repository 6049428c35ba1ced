"""What the two JSON-replying non-fiction planners share: prompt assembly and reply validation.

Each planner names its reply model once (``reply_model``); the prompt embeds the shape rendered
from that model and ``parse_reply`` validates against the same model. The prompt and parsing
helpers are fiction's: they know nothing about fiction, only about reply models.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from planners.framework.base import PlannerBase
from planners.framework.context import PlannerContext
from planners.framework.errors import ReplyValidationError
from planners.framework.metadata import PlannerStep
from planners.framework.replies import (
    ReplyShapeError,
    json_reply_instructions,
    parse_reply_json,
    step_variables,
)

ParamsT = TypeVar("ParamsT", bound=BaseModel)

SYSTEM_MESSAGE = (
    "You are a meticulous non-fiction planning assistant: you plan books that explain and "
    "argue from evidence. You answer in exactly the format asked for, with no commentary "
    "before or after it."
)


class NonfictionParams(BaseModel):
    """Base of the planners' parameters: one field per template variable, values as text."""

    model_config = ConfigDict(extra="forbid")


class NonfictionJsonPlanner(PlannerBase[ParamsT]):
    """A non-fiction planner whose single step replies with JSON of ``reply_model``'s shape."""

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
