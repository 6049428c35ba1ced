"""The one catalog of planners: look-ups by slug, name, capability and template id.

Planner modules register their classes with ``@register_planner`` when they are imported;
``PlannersConfig.ready()`` imports ``planners.fiction`` so the catalog is complete by the time any
view, command or task runs. Tests register a toy planner only for their duration with
``catalog.registered(ToyPlanner)``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from planners.framework.errors import DuplicatePlannerError, UnknownPlannerError
from planners.framework.metadata import PlannerStep

if TYPE_CHECKING:
    from planners.framework.base import PlannerBase

    AnyPlanner = PlannerBase[Any]

PlannerClassT = TypeVar("PlannerClassT", bound="type[PlannerBase[Any]]")


class PlannerCatalog:
    """Registered planner instances, in registration order (the pipeline's phase order)."""

    def __init__(self) -> None:
        self._planners: dict[str, AnyPlanner] = {}
        self._lock = threading.Lock()

    def register(self, planner_cls: PlannerClassT) -> PlannerClassT:
        """Register ``planner_cls`` (also usable as a class decorator).

        Registering the same class again is a no-op (module re-imports happen); a *different*
        class claiming a taken slug, name or template id is a ``DuplicatePlannerError``.
        """
        planner = planner_cls()
        planner.check_definition()
        meta = planner.metadata
        with self._lock:
            existing = self._planners.get(meta.slug)
            if existing is not None:
                if type(existing) is planner_cls or _same_class(type(existing), planner_cls):
                    return planner_cls
                raise DuplicatePlannerError(
                    f"Planner slug {meta.slug!r} is already registered by "
                    f"{type(existing).__qualname__}."
                )
            for other in self._planners.values():
                if other.metadata.name.lower() == meta.name.lower():
                    raise DuplicatePlannerError(
                        f"Planner name {meta.name!r} is already used by {other.metadata.slug!r}."
                    )
                shared = set(other.metadata.template_ids) & set(meta.template_ids)
                if shared:
                    raise DuplicatePlannerError(
                        f"Template {sorted(shared)[0]!r} of planner {meta.slug!r} already belongs"
                        f" to planner {other.metadata.slug!r}; each template drives one step."
                    )
            self._planners[meta.slug] = planner
        return planner_cls

    def unregister(self, slug: str) -> None:
        """Remove a planner (tests use ``registered()`` instead of calling this directly)."""
        with self._lock:
            if slug not in self._planners:
                raise UnknownPlannerError(slug, self._planners)
            del self._planners[slug]

    @contextmanager
    def registered(self, *planner_classes: type[AnyPlanner]) -> Iterator[list[AnyPlanner]]:
        """Register planners for the duration of a ``with`` block, then remove them again."""
        added: list[str] = []
        try:
            for planner_cls in planner_classes:
                slug = planner_cls.metadata.slug
                was_there = slug in self._planners
                self.register(planner_cls)
                if not was_there:
                    added.append(slug)
            yield [self.get(cls.metadata.slug) for cls in planner_classes]
        finally:
            for slug in added:
                self.unregister(slug)

    def all(self) -> list[AnyPlanner]:
        return list(self._planners.values())

    def slugs(self) -> list[str]:
        return list(self._planners)

    def __contains__(self, slug: object) -> bool:
        return slug in self._planners

    def __len__(self) -> int:
        return len(self._planners)

    def get(self, slug: str) -> AnyPlanner:
        """The planner registered as ``slug``; ``UnknownPlannerError`` names it and the known."""
        try:
            return self._planners[slug]
        except KeyError:
            raise UnknownPlannerError(slug, self._planners) from None

    def by_name(self, name: str) -> AnyPlanner:
        """The planner whose display name is ``name`` (case-insensitive)."""
        wanted = name.strip().lower()
        for planner in self._planners.values():
            if planner.metadata.name.lower() == wanted:
                return planner
        names = [p.metadata.name for p in self._planners.values()]
        raise UnknownPlannerError(name, names, kind="name")

    def by_capability(self, tag: str) -> list[AnyPlanner]:
        """Every planner tagged ``tag`` (case-insensitive), in registration order."""
        return [p for p in self._planners.values() if p.metadata.has_capability(tag)]

    def capabilities(self) -> list[str]:
        """All tags in use, sorted: what the console offers as filters."""
        return sorted({t for p in self._planners.values() for t in p.metadata.capabilities})

    def step_for_template(self, template_id: str) -> tuple[AnyPlanner, PlannerStep] | None:
        """The planner and step driven by ``template_id``, or None if no step uses it."""
        for planner in self._planners.values():
            for step in planner.metadata.steps:
                if step.template_id == template_id:
                    return planner, step
        return None


def _same_class(a: type, b: type) -> bool:
    # A module imported twice under the same name (e.g. by a test runner) yields a new class
    # object for the same definition; treat it as a re-registration, not a clash.
    return a.__module__ == b.__module__ and a.__qualname__ == b.__qualname__


catalog = PlannerCatalog()


def register_planner(planner_cls: PlannerClassT) -> PlannerClassT:
    """Class decorator: ``@register_planner`` adds the planner to the catalog."""
    return catalog.register(planner_cls)
