"""A toy planner for the framework tests: one step, a JSON reply with a ``title``.

Register it for a test with the ``toy`` fixture (``conftest.py``).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from planners.framework.base import PlannerBase
from planners.framework.context import PlannerContext
from planners.framework.errors import ReplyValidationError
from planners.framework.metadata import PlannerMetadata, PlannerStep

TOY_TEMPLATE = "planner.test.toyTitle"
TOY_FALLBACK = 'Fallback: title a story about {{topic}} in {{words}} words. Reply {"title": "..."}'
GOOD_REPLY = '{"title": "The Lighthouse Keeper"}'
BETTER_REPLY = '{"title": "The Last Lighthouse Keeper"}'
BAD_REPLY = '{"headline": "no title key"}'


class ToyParams(BaseModel):
    topic: str
    words: int = 3


class ToyReply(BaseModel):
    title: str


class ToyPlanner(PlannerBase[ToyParams]):
    """One step, JSON reply with a ``title``; records its hook calls in ``calls``."""

    metadata = PlannerMetadata(
        name="Toy Title Planner",
        slug="toy-title",
        description="Titles a story; exists only in the framework tests.",
        capabilities=("planning", "Toy"),
        steps=(
            PlannerStep(
                id="toy-title",
                display_name="Title",
                purpose="Proves the lifecycle",
                template_id=TOY_TEMPLATE,
                variables=("topic", "words"),
            ),
        ),
        telemetry_tags={"family": "test"},
    )
    params_model = ToyParams
    phase = "vision"
    calls: list[str] = []

    def default_prompt(self, step: PlannerStep) -> str:
        return TOY_FALLBACK

    def template_variables(
        self, step: PlannerStep, params: ToyParams, context: PlannerContext
    ) -> dict[str, str]:
        self.calls.append("template_variables")
        return {"topic": params.topic, "words": str(params.words)}

    def parse_reply(self, step: PlannerStep, text: str) -> ToyReply:
        self.calls.append("parse_reply")
        try:
            return ToyReply.model_validate(json.loads(text))
        except json.JSONDecodeError as exc:
            raise ReplyValidationError([f"the reply is not JSON: {exc.msg}"]) from None
        except ValidationError as exc:
            raise ReplyValidationError(
                [f"key {'.'.join(map(str, e['loc']))!r}: {e['msg']}" for e in exc.errors()]
            ) from None


def params(**overrides: Any) -> dict[str, Any]:
    return {"topic": "a lighthouse", "words": 4, **overrides}
