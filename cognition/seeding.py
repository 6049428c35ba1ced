"""Seeding planner prompt templates from the planners' own built-in prompts.

Every registered planner step names its template (``step.template_id``) and ships a built-in
prompt (``planner.default_prompt(step)``). Seeding stores that prompt as a ``seeded`` version so
admins have something to edit, and keeps it current when the code's prompt changes, without ever
overriding an admin's decision:

* a missing template is created with the seeded text as v1;
* when the code's text differs from the latest *seeded* version and the active version is a
  seeded one, a new seeded version is added and activated;
* when an admin version is active, or an admin rolled back to an older seeded version, nothing
  changes (reported as unchanged): the admin's choice stands;
* nothing is ever deleted or switched off.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import transaction

from cognition.actions import add_template_version
from cognition.models import PromptTemplate, PromptTemplateVersion
from cognition.prompts import TemplateState, template_states
from planners.framework.base import PlannerBase
from planners.framework.catalog import catalog
from planners.framework.metadata import PlannerStep

logger = logging.getLogger(__name__)

SEED_AUTHOR = "seed_planner_templates"
SEEDED = PromptTemplateVersion.Source.SEEDED

Outcome = Literal["created", "updated", "unchanged"]


@dataclass
class SeedResult:
    """Template names by what seeding did to them; ``kept`` lists the unchanged ones whose
    active version an admin chose (so a changed built-in prompt was deliberately not applied)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"created {len(self.created)}, updated {len(self.updated)}, "
            f"unchanged {len(self.unchanged)}"
        )


@dataclass(frozen=True)
class StepTemplateProblem:
    """A registered planner step whose template would make the planner fall back."""

    planner: str
    step: str
    template_id: str
    problem: str  # "missing", "inactive" or "empty"

    def __str__(self) -> str:
        return f"{self.template_id} (planner {self.planner}, step {self.step}): {self.problem}"


def registered_planners() -> list[PlannerBase[Any]]:
    return catalog.all()


def seed_planner_templates(planners: Iterable[PlannerBase[Any]] | None = None) -> SeedResult:
    """Seed the template of every step of ``planners`` (default: every registered planner)."""
    result = SeedResult()
    for planner in registered_planners() if planners is None else planners:
        for step in planner.metadata.steps:
            outcome, kept = seed_template(
                step.template_id, planner.default_prompt(step), description=step.purpose
            )
            getattr(result, outcome).append(step.template_id)
            if kept:
                result.kept.append(step.template_id)
    return result


def seed_template(name: str, text: str, *, description: str = "") -> tuple[Outcome, bool]:
    """Seed one template; return what happened and whether an admin's choice was kept.

    Raises ``cognition.templating.TemplateError`` naming the problem when ``text`` is not
    storable (nothing is written then).
    """
    with transaction.atomic():
        template, created = PromptTemplate.objects.select_for_update().get_or_create(
            name=name, defaults={"description": description}
        )
        if not created and not template.description and description:
            template.description = description
            template.save(update_fields=["description", "updated_at"])
        if created or template.active_version_id is None:
            add_template_version(
                template, text, author=SEED_AUTHOR, note="seeded from the planner", source=SEEDED
            )
            return ("created" if created else "updated"), False
        latest_seeded = template.versions.filter(source=SEEDED).order_by("-number").first()
        if latest_seeded is not None and latest_seeded.text == text:
            # The code's prompt has not changed since it was last seeded.
            return "unchanged", template.active_version_id != latest_seeded.pk
        active = template.active_version
        assert active is not None
        if active.source != SEEDED:
            logger.info(
                "template %s: built-in prompt changed but admin version v%s is active; kept",
                name,
                active.number,
            )
            return "unchanged", True
        if latest_seeded is not None and active.pk != latest_seeded.pk:
            logger.info(
                "template %s: built-in prompt changed but an admin rolled back to v%s; kept",
                name,
                active.number,
            )
            return "unchanged", True
        add_template_version(
            template, text, author=SEED_AUTHOR, note="built-in prompt changed", source=SEEDED
        )
        return "updated", False


def check_planner_templates(
    planners: Iterable[PlannerBase[Any]] | None = None,
) -> tuple[int, list[StepTemplateProblem]]:
    """(number of steps checked, problems) for every step of ``planners`` (one query)."""
    steps: list[tuple[PlannerBase[Any], PlannerStep]] = [
        (planner, step)
        for planner in (registered_planners() if planners is None else planners)
        for step in planner.metadata.steps
    ]
    states = template_states(step.template_id for _, step in steps)
    problems = [
        StepTemplateProblem(planner.metadata.slug, step.id, step.template_id, problem)
        for planner, step in steps
        if (problem := _problem(states[step.template_id]))
    ]
    return len(steps), problems


def _problem(state: TemplateState) -> str:
    if not state.found:
        return "missing"
    if not state.active:
        return "inactive" if state.version is not None else "no active version"
    if state.empty:
        return "empty"
    return ""
