"""The planner catalog, planner definitions and the ``planners`` command."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from pydantic import BaseModel

from planners.framework.base import PlannerBase
from planners.framework.catalog import PlannerCatalog, catalog
from planners.framework.errors import (
    DuplicatePlannerError,
    PlannerDefinitionError,
    PlannerParamsError,
    UnknownPlannerError,
)
from planners.framework.metadata import PlannerMetadata, PlannerStep
from tests.factories.templates import make_template
from tests.toy_planner import TOY_TEMPLATE, ToyPlanner


class OtherParams(BaseModel):
    chapter: str


def other_planner(
    slug: str = "toy-outline",
    name: str = "Toy Outline Planner",
    template_id: str = "planner.test.toyOutline",
    prompt: str = "Outline {{chapter}}.",
    variables: tuple[str, ...] = ("chapter",),
) -> type[PlannerBase[OtherParams]]:
    class OtherPlanner(PlannerBase[OtherParams]):
        metadata = PlannerMetadata(
            name=name,
            slug=slug,
            description="A second toy planner.",
            capabilities=("outline", "toy"),
            steps=(PlannerStep("outline", "Outline", "Outlines", template_id, variables),),
        )
        params_model = OtherParams

        def default_prompt(self, step: PlannerStep) -> str:
            return prompt

    return OtherPlanner


def test_catalog_finds_planners_by_slug_name_capability_and_template(toy: ToyPlanner) -> None:
    outline_cls = other_planner()
    with catalog.registered(outline_cls) as (outline,):
        assert catalog.get("toy-title") is toy
        assert catalog.by_name("toy title planner") is toy
        assert catalog.by_capability("TOY") == [toy, outline]
        assert catalog.by_capability("outline") == [outline]
        assert catalog.by_capability("nothing") == []
        assert catalog.step_for_template(TOY_TEMPLATE) == (toy, toy.metadata.steps[0])
        assert catalog.step_for_template("planner.test.nobody") is None
        assert {"toy", "outline", "planning"} <= set(catalog.capabilities())
    assert "toy-outline" not in catalog


def test_unknown_slug_names_it_and_lists_the_known(toy: ToyPlanner) -> None:
    with pytest.raises(UnknownPlannerError) as caught:
        catalog.get("toy-titel")

    message = str(caught.value)
    assert message.startswith("Unknown planner slug 'toy-titel'; known planners: ")
    assert "toy-title" in message
    assert caught.value.slug == "toy-titel"


def test_unknown_name_is_reported_as_a_name() -> None:
    with pytest.raises(UnknownPlannerError, match="Unknown planner name 'Nobody'"):
        PlannerCatalog().by_name("Nobody")


def test_registered_block_removes_the_planner_afterwards() -> None:
    with catalog.registered(ToyPlanner):
        assert "toy-title" in catalog
    assert "toy-title" not in catalog
    with pytest.raises(UnknownPlannerError):
        catalog.get("toy-title")


def test_registering_the_same_class_twice_is_harmless(toy: ToyPlanner) -> None:
    catalog.register(ToyPlanner)

    assert catalog.get("toy-title") is toy


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"slug": "toy-title", "name": "Another"}, "slug 'toy-title' is already registered"),
        ({"name": "Toy Title Planner"}, "name 'Toy Title Planner' is already used"),
        ({"template_id": TOY_TEMPLATE}, "already belongs to planner 'toy-title'"),
    ],
)
def test_clashing_planner_is_refused(toy: ToyPlanner, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DuplicatePlannerError, match=message):
        catalog.register(other_planner(**kwargs))


def test_capabilities_are_one_normalised_list() -> None:
    meta = ToyPlanner.metadata

    assert meta.capabilities == ("planning", "toy")
    assert meta.has_capability("Toy")


def test_fallback_prompt_with_undeclared_variable_is_refused_at_registration() -> None:
    planner_cls = other_planner(prompt="Outline {{chapter}} for {{reader}}.")

    with pytest.raises(PlannerDefinitionError, match=r"undeclared variable.*reader"):
        catalog.register(planner_cls)
    assert "toy-outline" not in catalog


def test_empty_fallback_prompt_is_refused_at_registration() -> None:
    with pytest.raises(PlannerDefinitionError, match="fallback prompt is unusable"):
        catalog.register(other_planner(prompt="  "))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"slug": "Bad Slug"}, "lowercase words joined by hyphens"),
        ({"steps": ()}, "declares no steps"),
        ({"name": " "}, "name must not be empty"),
    ],
)
def test_malformed_metadata_is_refused(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "name": "X",
        "slug": "x",
        "description": "",
        "capabilities": (),
        "steps": (PlannerStep("s", "S", "", "planner.test.x"),),
        **kwargs,
    }
    with pytest.raises(PlannerDefinitionError, match=message):
        PlannerMetadata(**fields)  # type: ignore[arg-type]


def test_step_lookup_names_the_known_steps() -> None:
    with pytest.raises(KeyError, match="steps: toy-title"):
        ToyPlanner.metadata.step("nope")


def test_validate_params_names_every_bad_field(toy: ToyPlanner) -> None:
    with pytest.raises(PlannerParamsError) as caught:
        toy.validate_params({"words": "several"})

    assert caught.value.errors == [
        "field 'topic': Field required",
        "field 'words': Input should be a valid integer, unable to parse string as an integer",
    ]
    assert "toy-title" in str(caught.value)


@pytest.mark.django_db
def test_planners_command_lists_steps_with_template_state(toy: ToyPlanner) -> None:
    make_template(TOY_TEMPLATE, "Title {{topic}} in {{words}} words.")
    out = StringIO()
    with catalog.registered(other_planner()):
        call_command("planners", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].split() == [
        "PLANNER",
        "SLUG",
        "CAPABILITIES",
        "STEP",
        "TEMPLATE",
        "FOUND",
        "ACTIVE",
        "VERSION",
        "PROMPT",
    ]
    toy_line = next(line for line in lines if " toy-title " in line)
    assert "planning, toy" in toy_line
    assert TOY_TEMPLATE in toy_line
    assert toy_line.split()[-4:] == ["yes", "yes", "1", "template"]
    outline_line = next(line for line in lines if " toy-outline " in line)
    assert outline_line.split()[-5:] == ["no", "no", "-", "fallback", "(missing)"]
    assert "on fallback" in lines[-1]


@pytest.mark.django_db
def test_planners_command_json_output(toy: ToyPlanner) -> None:
    out = StringIO()
    call_command("planners", "--json", stdout=out)

    rows = {row["slug"]: row for row in json.loads(out.getvalue())}
    assert rows["toy-title"]["used_fallback"] is True
    assert rows["toy-title"]["prompt"] == "fallback (missing)"
    assert rows["toy-title"]["variables"] == ["topic", "words"]
