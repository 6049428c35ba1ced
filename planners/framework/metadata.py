"""What a planner declares about itself: name, slug, capability tags and its steps.

The metadata is the single description of a planner. The catalog indexes it, the console and the
``planners`` command display it, the template seeder reads each step's ``template_id`` and
``variables``: there is no second list of tags or templates that could disagree with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from planners.framework.errors import PlannerDefinitionError

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
VARIABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class PlannerStep:
    """One agent call a planner makes, and the prompt template that drives it.

    ``variables`` are the ``{{tokens}}`` the planner can fill for this step; strict rendering
    treats any other token in the template as unknown.
    """

    id: str
    display_name: str
    purpose: str
    template_id: str
    variables: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.id:
            raise PlannerDefinitionError("PlannerStep.id must not be empty.")
        if not self.template_id:
            raise PlannerDefinitionError(f"Planner step {self.id!r} has no template_id.")
        # Accept lists from callers but store a tuple so the step stays hashable and immutable.
        object.__setattr__(self, "variables", tuple(self.variables))
        bad = [v for v in self.variables if not VARIABLE_RE.match(v)]
        if bad:
            raise PlannerDefinitionError(
                f"Planner step {self.id!r} declares invalid variable name(s): {', '.join(bad)}."
            )
        if len(set(self.variables)) != len(self.variables):
            raise PlannerDefinitionError(f"Planner step {self.id!r} declares a variable twice.")


@dataclass(frozen=True)
class PlannerMetadata:
    """Everything the catalog, console and seeder need to know about a planner."""

    name: str
    slug: str
    description: str
    capabilities: tuple[str, ...]
    steps: tuple[PlannerStep, ...]
    default_settings: Mapping[str, Any] = field(default_factory=dict)
    telemetry_tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise PlannerDefinitionError("PlannerMetadata.name must not be empty.")
        if not SLUG_RE.match(self.slug):
            raise PlannerDefinitionError(
                f"Planner slug {self.slug!r} must be lowercase words joined by hyphens."
            )
        # Tags are compared case-insensitively by the catalog; store them normalised, once each.
        tags = tuple(dict.fromkeys(t.strip().lower() for t in self.capabilities if t.strip()))
        object.__setattr__(self, "capabilities", tags)
        object.__setattr__(self, "steps", tuple(self.steps))
        if not self.steps:
            raise PlannerDefinitionError(f"Planner {self.slug!r} declares no steps.")
        ids = [s.id for s in self.steps]
        if len(set(ids)) != len(ids):
            raise PlannerDefinitionError(f"Planner {self.slug!r} declares a step id twice.")
        object.__setattr__(self, "default_settings", MappingProxyType(dict(self.default_settings)))
        object.__setattr__(
            self,
            "telemetry_tags",
            MappingProxyType({str(k): str(v) for k, v in self.telemetry_tags.items()}),
        )

    def step(self, step_id: str) -> PlannerStep:
        """The step with ``step_id``; ``KeyError`` naming the known steps otherwise."""
        for step in self.steps:
            if step.id == step_id:
                return step
        known = ", ".join(s.id for s in self.steps)
        raise KeyError(f"Planner {self.slug!r} has no step {step_id!r}; steps: {known}.")

    @property
    def template_ids(self) -> tuple[str, ...]:
        return tuple(s.template_id for s in self.steps)

    def has_capability(self, tag: str) -> bool:
        return tag.strip().lower() in self.capabilities
