"""What the two JSON-replying non-fiction planners share: their system message (prompt assembly
and reply validation are the framework's ``JsonReplyPlanner``)."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from pydantic import BaseModel

from planners.framework.json_planner import JsonReplyPlanner, TemplateParams

ParamsT = TypeVar("ParamsT", bound=BaseModel)

SYSTEM_MESSAGE = (
    "You are a meticulous non-fiction planning assistant: you plan books that explain and "
    "argue from evidence. You answer in exactly the format asked for, with no commentary "
    "before or after it."
)


class NonfictionParams(TemplateParams):
    """Base of the non-fiction planners' parameters: one field per template variable, as text."""


class NonfictionJsonPlanner(JsonReplyPlanner[ParamsT]):
    """A non-fiction planner whose single step replies with JSON of ``reply_model``'s shape."""

    system_message: ClassVar[str] = SYSTEM_MESSAGE
