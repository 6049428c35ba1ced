"""What the four JSON-replying fiction planners share: their system message (prompt assembly
and reply validation are the framework's ``JsonReplyPlanner``)."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from pydantic import BaseModel

from planners.framework.json_planner import JsonReplyPlanner, TemplateParams

ParamsT = TypeVar("ParamsT", bound=BaseModel)


SYSTEM_MESSAGE = (
    "You are a meticulous fiction planning assistant. You answer in exactly the format asked "
    "for, with no commentary before or after it."
)


class FictionParams(TemplateParams):
    """Base of the fiction planners' parameters: one field per template variable, as text."""


class FictionJsonPlanner(JsonReplyPlanner[ParamsT]):
    """A fiction planner whose single step replies with JSON of ``reply_model``'s shape."""

    system_message: ClassVar[str] = SYSTEM_MESSAGE
