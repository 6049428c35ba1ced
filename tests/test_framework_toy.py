"""A toy planner and template helpers shared by the framework tests (not a test module)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from cognition.models import PromptTemplate, PromptTemplateVersion
from planners.framework.base import PlannerBase
from planners.framework.catalog import catalog
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


@pytest.fixture
def toy() -> Iterator[ToyPlanner]:
    ToyPlanner.calls = []
    with catalog.registered(ToyPlanner) as (planner,):
        assert isinstance(planner, ToyPlanner)
        yield planner


def make_template(name: str, text: str, *, active: bool = True) -> PromptTemplate:
    template = PromptTemplate.objects.create(name=name, is_active=active)
    version = PromptTemplateVersion.objects.create(
        template=template, number=1, text=text, source="seeded"
    )
    template.active_version = version
    template.save(update_fields=["active_version"])
    return template


def params(**overrides: Any) -> dict[str, Any]:
    return {"topic": "a lighthouse", "words": 4, **overrides}
