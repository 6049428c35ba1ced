"""Seeding planner templates: idempotent, never clobbers an admin's version, and --check."""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import StringIO
from typing import Any, ClassVar

import pytest
from django.core.management import CommandError, call_command
from pydantic import BaseModel

from cognition.actions import activate_template_version, add_template_version
from cognition.models import PromptTemplate, PromptTemplateVersion
from cognition.seeding import check_planner_templates, seed_planner_templates
from planners.framework.base import PlannerBase
from planners.framework.catalog import catalog
from planners.framework.context import PlannerContext
from planners.framework.metadata import PlannerMetadata, PlannerStep

pytestmark = pytest.mark.django_db

TIDE_TEMPLATE = "planner.toy.tide"
CHART_TEMPLATE = "planner.toy.chart"


class ToyParams(BaseModel):
    title: str = "Tidewater"


class ToyTidePlanner(PlannerBase[ToyParams]):
    """A two-step planner registered only while a test runs."""

    PROMPTS: ClassVar[dict[str, str]] = {}
    metadata = PlannerMetadata(
        name="Toy Tide Planner",
        slug="toy-tide",
        description="Plans tides for tests.",
        capabilities=("testing",),
        steps=(
            PlannerStep("tide", "Tide", "Chart the tides of {{title}}.", TIDE_TEMPLATE, ("title",)),
            PlannerStep("chart", "Chart", "Draw the harbour chart.", CHART_TEMPLATE, ("title",)),
        ),
    )
    params_model = ToyParams

    def default_prompt(self, step: PlannerStep) -> str:
        return self.PROMPTS.get(step.id, f"Step {step.id} for {{{{title}}}}.")

    def template_variables(
        self, step: PlannerStep, params: ToyParams, context: PlannerContext
    ) -> dict[str, str]:
        return {"title": params.title}


@pytest.fixture
def toy_planner() -> Iterator[ToyTidePlanner]:
    ToyTidePlanner.PROMPTS = {}
    with catalog.registered(ToyTidePlanner) as [planner]:
        assert isinstance(planner, ToyTidePlanner)
        yield planner
    ToyTidePlanner.PROMPTS = {}


def active_text(name: str) -> str:
    template = PromptTemplate.objects.select_related("active_version").get(name=name)
    assert template.active_version is not None
    return template.active_version.text


def test_first_seed_creates_each_step_template_as_seeded_v1(toy_planner: ToyTidePlanner) -> None:
    result = seed_planner_templates([toy_planner])

    assert result.created == [TIDE_TEMPLATE, CHART_TEMPLATE]
    tide = PromptTemplate.objects.get(name=TIDE_TEMPLATE)
    assert tide.description == "Chart the tides of {{title}}."
    assert tide.active_version is not None
    assert (tide.active_version.number, tide.active_version.source) == (1, "seeded")
    assert tide.active_version.text == "Step tide for {{title}}."
    assert tide.active_version.variables == ["title"]


def test_seeding_twice_changes_nothing(toy_planner: ToyTidePlanner) -> None:
    seed_planner_templates([toy_planner])

    again = seed_planner_templates([toy_planner])

    assert again.summary() == "created 0, updated 0, unchanged 2"
    assert PromptTemplateVersion.objects.count() == 2


def test_changed_builtin_prompt_adds_a_seeded_version(toy_planner: ToyTidePlanner) -> None:
    seed_planner_templates([toy_planner])
    ToyTidePlanner.PROMPTS = {"tide": "Chart the spring tides for {{title}}."}

    result = seed_planner_templates([toy_planner])

    assert result.summary() == "created 0, updated 1, unchanged 1"
    assert active_text(TIDE_TEMPLATE) == "Chart the spring tides for {{title}}."
    numbers = list(
        PromptTemplateVersion.objects.filter(template__name=TIDE_TEMPLATE)
        .order_by("number")
        .values_list("number", "source")
    )
    assert numbers == [(1, "seeded"), (2, "seeded")]


def test_admin_version_is_never_overwritten(toy_planner: ToyTidePlanner) -> None:
    seed_planner_templates([toy_planner])
    tide = PromptTemplate.objects.get(name=TIDE_TEMPLATE)
    add_template_version(tide, "Olivia's tide prompt for {{title}}.", author="olivia", note="tone")
    ToyTidePlanner.PROMPTS = {"tide": "Chart the spring tides for {{title}}."}

    result = seed_planner_templates([toy_planner])

    assert TIDE_TEMPLATE in result.unchanged
    assert result.kept == [TIDE_TEMPLATE]
    assert active_text(TIDE_TEMPLATE) == "Olivia's tide prompt for {{title}}."
    assert PromptTemplateVersion.objects.filter(template__name=TIDE_TEMPLATE).count() == 2


def test_admin_rollback_to_an_older_seeded_version_is_kept(toy_planner: ToyTidePlanner) -> None:
    seed_planner_templates([toy_planner])
    ToyTidePlanner.PROMPTS = {"tide": "Chart the spring tides for {{title}}."}
    seed_planner_templates([toy_planner])
    v1 = PromptTemplateVersion.objects.get(template__name=TIDE_TEMPLATE, number=1)
    activate_template_version(v1, actor="olivia")

    result = seed_planner_templates([toy_planner])

    assert result.kept == [TIDE_TEMPLATE]
    assert active_text(TIDE_TEMPLATE) == "Step tide for {{title}}."


def test_seeding_never_reactivates_a_switched_off_template(toy_planner: ToyTidePlanner) -> None:
    seed_planner_templates([toy_planner])
    PromptTemplate.objects.filter(name=TIDE_TEMPLATE).update(is_active=False)

    seed_planner_templates([toy_planner])

    assert PromptTemplate.objects.get(name=TIDE_TEMPLATE).is_active is False


def test_command_prints_one_summary_line(toy_planner: ToyTidePlanner) -> None:
    out = StringIO()
    call_command("seed_planner_templates", stdout=out)
    first = out.getvalue()
    out = StringIO()
    call_command("seed_planner_templates", stdout=out)

    assert re.fullmatch(r"created \d+, updated 0, unchanged 0\n", first)
    assert re.fullmatch(r"created 0, updated 0, unchanged \d+\n", out.getvalue())
    assert PromptTemplate.objects.filter(name__in=[TIDE_TEMPLATE, CHART_TEMPLATE]).count() == 2


def test_check_names_every_unusable_step_template(toy_planner: ToyTidePlanner) -> None:
    call_command("seed_planner_templates", stdout=StringIO())
    PromptTemplate.objects.filter(name=TIDE_TEMPLATE).update(is_active=False)
    PromptTemplate.objects.filter(name=CHART_TEMPLATE).update(name="planner.toy.chart-renamed")
    err = StringIO()

    with pytest.raises(CommandError, match=r"2 of .* planner step template") as excinfo:
        call_command("seed_planner_templates", "--check", stdout=StringIO(), stderr=err)

    assert excinfo.value.returncode == 1
    assert f"{TIDE_TEMPLATE} (planner toy-tide, step tide): inactive" in err.getvalue()
    assert f"{CHART_TEMPLATE} (planner toy-tide, step chart): missing" in err.getvalue()


def test_check_flags_an_empty_active_version(toy_planner: ToyTidePlanner) -> None:
    seed_planner_templates([toy_planner])
    tide = PromptTemplate.objects.get(name=TIDE_TEMPLATE)
    blank = PromptTemplateVersion.objects.create(template=tide, number=9, text=" ", source="admin")
    activate_template_version(blank, actor="olivia")

    checked, problems = check_planner_templates([toy_planner])

    assert checked == 2
    assert [(p.template_id, p.problem) for p in problems] == [(TIDE_TEMPLATE, "empty")]


def test_check_passes_after_seeding(toy_planner: ToyTidePlanner) -> None:
    call_command("seed_planner_templates", stdout=StringIO())
    out = StringIO()

    call_command("seed_planner_templates", "--check", stdout=out)

    assert out.getvalue().startswith("OK: all ")


def test_check_changes_nothing(toy_planner: ToyTidePlanner) -> None:
    with pytest.raises(CommandError):
        call_command("seed_planner_templates", "--check", stdout=StringIO(), stderr=StringIO())

    assert not PromptTemplate.objects.exists()


def test_check_with_one_query_for_all_steps(
    toy_planner: ToyTidePlanner, django_assert_num_queries: Any
) -> None:
    seed_planner_templates([toy_planner])
    with django_assert_num_queries(1):
        check_planner_templates([toy_planner])


# -- the five registered fiction planners ------------------------------------------------------

FICTION_TEMPLATES = {
    "planner.fiction.vision": "vision",
    "planner.fiction.iterative": "iterative",
    "planner.fiction.chapterArchitect": "chapter-architect",
    "planner.fiction.scrollRefiner": "scroll-refiner",
    "planner.fiction.sceneWeaver": "scene-weaver",
}


def test_seeding_creates_the_five_fiction_templates_with_their_step_variables() -> None:
    out = StringIO()

    call_command("seed_planner_templates", stdout=out)

    assert re.fullmatch(r"created \d+, updated 0, unchanged 0\n", out.getvalue())
    for template_id, slug in FICTION_TEMPLATES.items():
        planner = catalog.get(slug)
        [step] = [s for s in planner.metadata.steps if s.template_id == template_id]
        template = PromptTemplate.objects.select_related("active_version").get(name=template_id)
        assert template.active_version is not None
        assert template.active_version.source == "seeded"
        assert template.active_version.text == planner.default_prompt(step)
        assert set(template.active_version.variables) <= set(step.variables)
        assert template.description == step.purpose


def test_deploy_check_fails_before_and_passes_after_seeding_the_fiction_planners() -> None:
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("seed_planner_templates", "--check", stdout=StringIO(), stderr=err)
    for template_id in FICTION_TEMPLATES:
        assert f"{template_id} (planner " in err.getvalue()
        assert "): missing" in err.getvalue()

    call_command("seed_planner_templates", stdout=StringIO())
    out = StringIO()
    call_command("seed_planner_templates", "--check", stdout=out)

    assert out.getvalue().startswith("OK: all ")


def test_reseeding_the_fiction_planners_is_idempotent() -> None:
    call_command("seed_planner_templates", stdout=StringIO())
    versions = PromptTemplateVersion.objects.count()
    out = StringIO()

    call_command("seed_planner_templates", stdout=out)

    assert re.fullmatch(r"created 0, updated 0, unchanged \d+\n", out.getvalue())
    assert PromptTemplateVersion.objects.count() == versions
