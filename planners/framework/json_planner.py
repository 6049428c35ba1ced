"""A planner whose single step replies with JSON of one reply model's shape.

The planner names its reply model once (``reply_model``): the prompt embeds the shape rendered
from that model and ``parse_reply`` validates against the same model, so the two cannot drift.
Families give it their own system message and prompt text.
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


class TemplateParams(BaseModel):
    """Base of a planner's parameters: one field per template variable, no unknown keys."""

    model_config = ConfigDict(extra="forbid")


class JsonReplyPlanner(PlannerBase[ParamsT]):
    """A planner whose single step replies with JSON of ``reply_model``'s shape."""

    reply_model: ClassVar[type[BaseModel]]
    #: The task part of the built-in prompt, with ``{{tokens}}``; the shape is appended.
    prompt_text: ClassVar[str]

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
