"""Pipelines and their phases: what a family of planners declares so the engine can run it.

A ``Pipeline`` lists its phases in order. Each ``PhaseSpec`` names the planner that runs it (a
catalog slug), the ``PhaseRunner`` that turns a backlog item into that planner's parameters and
its reply into the family's own records, and how its items come to exist:

* ``starts_with_plan``: one item is created with every new plan (``backlog_id`` = the phase
  key, unless ``start_backlog_id`` says otherwise), taking ``start_inputs`` and giving
  ``start_outputs`` as its tokens;
* ``creates``: the phase whose items this phase's runner adds as it materialises its reply (a
  fan-out: one scene item per new scene, one section-draft item per outline section). The
  runner adds them with ``planners.pipeline.backlog.add_backlog_items``.

Items depend on each other through tokens (item A waits for item B when an input of A is an
output of B). An input ``after:<phase>`` waits for every item of the plan in that phase or an
earlier one: what a phase added after the fact (``startplanner --pipeline X --after P``) uses,
since it cannot know the token names of the items before it.

Families register at import time (``PlannersConfig.ready`` imports them), the way planners
register in the catalog; ``extend_pipeline`` adds a phase to a registered pipeline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from planners.models import BacklogItem, Plan

#: The pipeline a plan runs when nobody says otherwise (today's commands keep working).
DEFAULT_PIPELINE = "fiction"
#: Input-token prefix that waits for every item of a phase and the phases before it.
AFTER_PREFIX = "after:"


class PipelineError(Exception):
    """A pipeline or phase that does not exist or cannot be registered; the message says why."""


class PhaseBlocked(Exception):
    """Raised by ``PhaseRunner.prepare`` when the phase cannot run yet (a missing target row, a
    gate such as fiction's lore requirements): the item is blocked before any model call and
    the message is what the operator reads."""


@dataclass
class PhaseInput:
    """What ``PhaseRunner.prepare`` hands the engine for one run.

    ``params``: the planner's parameters. ``iteration``: the pass number the run produces
    (feeds the iterations quota). ``links``: transcript metadata naming the rows the phase
    works on (``sceneSlug``, ``sectionId``...). ``state``: anything ``materialise`` needs again
    (read once in ``prepare``)."""

    params: BaseModel | Mapping[str, Any]
    iteration: int = 0
    links: dict[str, Any] = field(default_factory=dict)
    state: Any = None


@dataclass
class Materialised:
    """What ``PhaseRunner.materialise`` wrote: ``summary`` (counts and slugs, shown in the
    transcript metadata and the console) and ``links`` (the rows it wrote, by the same keys
    as ``PhaseInput.links``)."""

    summary: dict[str, Any] = field(default_factory=dict)
    links: dict[str, Any] = field(default_factory=dict)


class PhaseRunner:
    """How a family runs one of its phases. Subclass it and override what the phase needs.

    The engine calls, in order: ``checkpoint_target`` (before the claim), ``prepare`` (after
    the claim, before the agent call; may raise ``PhaseBlocked``), the planner, then in the
    phase's one transaction under the plan's lock ``materialise`` (a valid reply only) or
    ``stopped`` (a blocked or failed phase). Nothing here claims, transitions or schedules items:
    the engine does.
    """

    def checkpoint_target(self, item: BacklogItem) -> str:
        """The row the phase works on, stable across retries: the checkpoint key's last part.
        Default: the backlog item itself."""
        return f"item:{item.backlog_id}"

    def prepare(self, item: BacklogItem) -> PhaseInput:
        raise NotImplementedError(f"{type(self).__qualname__} must define prepare()")

    def materialise(
        self, item: BacklogItem, reply: Any, phase_input: PhaseInput, *, actor: str
    ) -> Materialised:
        """Write the validated reply into the family's records, idempotently (a redelivered
        phase must update, not duplicate). Default: nothing beyond the transcript."""
        return Materialised()

    def stopped(self, item: BacklogItem, status: str) -> None:
        """The phase ended ``blocked`` or ``failed``: mark the family's rows if it tracks that."""


@dataclass(frozen=True)
class PhaseSpec:
    key: str
    planner: str
    runner: PhaseRunner
    label: str = ""
    starts_with_plan: bool = False
    start_backlog_id: str = ""
    start_description: str = ""
    start_inputs: tuple[str, ...] = ()
    start_outputs: tuple[str, ...] = ()
    creates: str = ""

    @property
    def title(self) -> str:
        return self.label or self.key


@dataclass(frozen=True)
class Pipeline:
    """A family of planners run as phases. ``records_template``: the template partial that
    shows the family's records on the plan page, with ``records_context(plan)`` as its
    context. ``health_findings(plan_id)``: the family's own warnings for the health report."""

    slug: str
    name: str
    description: str
    phases: tuple[PhaseSpec, ...]
    records_template: str = ""
    records_context: Callable[[Plan], dict[str, Any]] | None = None
    health_findings: Callable[[int | None], list[HealthFinding]] | None = None

    def phase(self, key: str) -> PhaseSpec:
        for spec in self.phases:
            if spec.key == key:
                return spec
        known = ", ".join(spec.key for spec in self.phases)
        raise PipelineError(f"pipeline {self.slug!r} has no phase {key!r}; phases: {known}")

    def has_phase(self, key: str) -> bool:
        return any(spec.key == key for spec in self.phases)

    def phase_index(self, key: str) -> int:
        """The phase's place in the order (unknown phases sort last)."""
        for index, spec in enumerate(self.phases):
            if spec.key == key:
                return index
        return len(self.phases)

    @property
    def phase_keys(self) -> list[str]:
        return [spec.key for spec in self.phases]

    @property
    def planner_slugs(self) -> list[str]:
        return [spec.planner for spec in self.phases]


@dataclass(frozen=True)
class HealthFinding:
    """A family's own warning for the health report (e.g. fiction's blocked lore): a stable
    ``alert_id``, its ``severity`` (``info``, ``warning``, ``error``), what it says, and the
    plan it is about when it is about one."""

    alert_id: str
    severity: str
    title: str
    description: str
    plan_id: int | None = None


class PipelineRegistry:
    """Registered pipelines in registration order."""

    def __init__(self) -> None:
        self._pipelines: dict[str, Pipeline] = {}
        self._lock = threading.Lock()

    def register(self, pipeline: Pipeline) -> Pipeline:
        """Add ``pipeline``; registering an equal one again is a no-op (module re-imports)."""
        keys = [spec.key for spec in pipeline.phases]
        if len(set(keys)) != len(keys):
            raise PipelineError(f"pipeline {pipeline.slug!r} declares a phase twice: {keys}")
        with self._lock:
            existing = self._pipelines.get(pipeline.slug)
            if existing is not None and existing.phase_keys != pipeline.phase_keys:
                # A re-import of the declaring module keeps the phases others added since.
                added = [s for s in existing.phases if not pipeline.has_phase(s.key)]
                pipeline = replace(pipeline, phases=(*pipeline.phases, *added))
            for other in self._pipelines.values():
                if other.slug == pipeline.slug:
                    continue
                shared = set(other.phase_keys) & set(pipeline.phase_keys)
                if shared:
                    raise PipelineError(
                        f"phase {sorted(shared)[0]!r} of pipeline {pipeline.slug!r} is already a "
                        f"phase of pipeline {other.slug!r}; phase keys are unique."
                    )
            self._pipelines[pipeline.slug] = pipeline
        return pipeline

    def extend(self, slug: str, spec: PhaseSpec, *, after: str = "") -> Pipeline:
        """Add ``spec`` to pipeline ``slug`` after phase ``after`` (default: at the end)."""
        with self._lock:
            pipeline = self.get(slug)
            phases = [s for s in pipeline.phases if s.key != spec.key]
            index = len(phases)
            if after:
                index = pipeline.phase_index(after)
                if index >= len(pipeline.phases):
                    raise PipelineError(
                        f"pipeline {slug!r} has no phase {after!r} to add {spec.key!r} after; "
                        f"phases: {', '.join(pipeline.phase_keys)}"
                    )
                index += 1
            phases.insert(min(index, len(phases)), spec)
            extended = replace(pipeline, phases=tuple(phases))
            self._pipelines[slug] = extended
        return extended

    def unregister(self, slug: str) -> None:
        with self._lock:
            self._pipelines.pop(slug, None)

    @contextmanager
    def registered(self, *pipelines: Pipeline) -> Iterator[list[Pipeline]]:
        """Register pipelines for the duration of a ``with`` block (tests)."""
        saved = dict(self._pipelines)
        try:
            yield [self.register(p) for p in pipelines]
        finally:
            with self._lock:
                self._pipelines = saved

    def get(self, slug: str) -> Pipeline:
        try:
            return self._pipelines[slug]
        except KeyError:
            known = ", ".join(self._pipelines) or "(none)"
            raise PipelineError(f"unknown pipeline {slug!r}; pipelines: {known}") from None

    def all(self) -> list[Pipeline]:
        return list(self._pipelines.values())

    def slugs(self) -> list[str]:
        return list(self._pipelines)

    def __contains__(self, slug: object) -> bool:
        return slug in self._pipelines

    def phase(self, key: str) -> tuple[Pipeline, PhaseSpec]:
        """The pipeline and spec of phase ``key`` (phase keys are unique across pipelines)."""
        for pipeline in self._pipelines.values():
            for spec in pipeline.phases:
                if spec.key == key:
                    return pipeline, spec
        raise PipelineError(f"no registered pipeline has a phase {key!r}")

    def phase_for_planner(self, planner_slug: str) -> tuple[Pipeline, PhaseSpec] | None:
        """The pipeline and phase that planner ``planner_slug`` runs, if any."""
        for pipeline in self._pipelines.values():
            for spec in pipeline.phases:
                if spec.planner == planner_slug:
                    return pipeline, spec
        return None

    def planner_by_phase(self) -> dict[str, str]:
        """Every phase key → the slug of the planner that runs it."""
        return {s.key: s.planner for p in self._pipelines.values() for s in p.phases}

    def phase_labels(self) -> list[tuple[str, str]]:
        """``(key, label)`` of every phase of every pipeline, in order (console filters)."""
        return [(s.key, s.title) for p in self._pipelines.values() for s in p.phases]


pipelines = PipelineRegistry()


def register_pipeline(pipeline: Pipeline) -> Pipeline:
    return pipelines.register(pipeline)


def extend_pipeline(slug: str, spec: PhaseSpec, *, after: str = "") -> Pipeline:
    return pipelines.extend(slug, spec, after=after)


def start_items(pipeline: Pipeline) -> Sequence[PhaseSpec]:
    """The phases that put an item in every new plan."""
    return [spec for spec in pipeline.phases if spec.starts_with_plan]
