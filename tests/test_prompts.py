"""Resolving a template's active text and reporting its state."""

from __future__ import annotations

from typing import Any

import pytest

from cognition.models import PromptTemplate, PromptTemplateVersion
from cognition.prompts import (
    ResolvedTemplate,
    TemplateState,
    resolve_prompt,
    template_state,
    template_states,
)
from tests.factories.templates import make_template

pytestmark = pytest.mark.django_db


def test_active_template_resolves_to_its_active_version() -> None:
    template = make_template("planner.fiction.vision", "Plan {{projectTitle}}")
    v2 = PromptTemplateVersion.objects.create(
        template=template, number=2, text="Plan better {{projectTitle}}", source="admin"
    )
    template.active_version = v2
    template.save()

    assert resolve_prompt("planner.fiction.vision") == ResolvedTemplate(
        template_id="planner.fiction.vision", version=2, text="Plan better {{projectTitle}}"
    )
    assert template_state("planner.fiction.vision") == TemplateState(
        found=True, active=True, version=2, empty=False
    )


def test_missing_template_resolves_to_none() -> None:
    assert resolve_prompt("planner.fiction.nope") is None
    state = template_state("planner.fiction.nope")
    assert (state.found, state.active, state.usable) == (False, False, False)


def test_inactive_template_resolves_to_none() -> None:
    make_template("planner.fiction.vision", "Plan {{projectTitle}}", active=False)
    assert resolve_prompt("planner.fiction.vision") is None
    assert template_state("planner.fiction.vision") == TemplateState(
        found=True, active=False, version=1, empty=False
    )


def test_blank_template_text_resolves_to_none() -> None:
    make_template("planner.fiction.vision", "   \n ")
    assert resolve_prompt("planner.fiction.vision") is None
    assert template_state("planner.fiction.vision").empty is True


def test_template_without_active_version_is_not_usable() -> None:
    PromptTemplate.objects.create(name="planner.fiction.vision")
    assert resolve_prompt("planner.fiction.vision") is None
    assert template_state("planner.fiction.vision") == TemplateState(
        found=True, active=False, version=None, empty=True
    )


def test_bulk_template_states_take_one_query(django_assert_num_queries: Any) -> None:
    make_template("planner.fiction.vision", "Plan {{projectTitle}}")
    make_template("planner.fiction.iterative", "Pass {{iterationIndex}}", active=False)
    ids = ["planner.fiction.vision", "planner.fiction.iterative", "planner.fiction.missing"]
    with django_assert_num_queries(1):
        states = template_states(ids)
    assert list(states) == ids
    assert states["planner.fiction.vision"].usable
    assert not states["planner.fiction.iterative"].usable
    assert not states["planner.fiction.missing"].found


def test_resolving_follows_each_version_change_at_once(django_assert_num_queries: Any) -> None:
    template = make_template("planner.fiction.vision", "Plan {{projectTitle}}")
    first = template.active_version
    with django_assert_num_queries(1):
        assert resolve_prompt("planner.fiction.vision") == ResolvedTemplate(
            template_id="planner.fiction.vision", version=1, text="Plan {{projectTitle}}"
        )
    second = PromptTemplateVersion.objects.create(
        template=template, number=2, text="Plan again {{projectTitle}}", source="admin"
    )
    template.active_version = second
    template.save()
    assert resolve_prompt("planner.fiction.vision") == ResolvedTemplate(
        template_id="planner.fiction.vision", version=2, text="Plan again {{projectTitle}}"
    )
    template.active_version = first  # rollback
    template.save()
    resolved = resolve_prompt("planner.fiction.vision")
    assert resolved is not None
    assert resolved.version == 1
    template.is_active = False
    template.save()
    assert resolve_prompt("planner.fiction.vision") is None
