"""How the engine runs each fiction phase: parameters from the plan's rows, replies into them.

One ``PhaseRunner`` per phase (``planners.pipeline.registry``). Each reads what its planner is
told from the plan's materialised rows (``planners.fiction.inputs``) and writes a valid reply
back (``planners.fiction.materialise``); the engine claims, runs, records and schedules.

Scroll and scene phases first pass the lore gate: an unresolved requirement bound to the scroll
blocks the phase before any model call, and says which requirement blocks it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from planners.fiction.inputs import (
    PhaseInputError,
    chapter_architect_params,
    iterative_params,
    next_iteration,
    resolve_blueprint,
    scene_weaver_params,
    scroll_refiner_params,
    vision_params,
)
from planners.fiction.lore import blocking_requirements, describe_blockers
from planners.fiction.materialise.chapter_architect import materialise_chapter
from planners.fiction.materialise.iterative import materialise_iterative
from planners.fiction.materialise.rows import links
from planners.fiction.materialise.scene_weaver import mark_scene, materialise_scene
from planners.fiction.materialise.scroll_refiner import materialise_scroll
from planners.fiction.materialise.vision import materialise_vision
from planners.fiction.targets import targets
from planners.models import BacklogItem, ChapterScene
from planners.pipeline.registry import Materialised, PhaseBlocked, PhaseInput, PhaseRunner

_SCENE_STATUS = {"blocked": ChapterScene.Status.BLOCKED, "failed": ChapterScene.Status.FAILED}


class FictionRunner(PhaseRunner):
    """What every fiction phase shares: the lore gate (for the phases it gates), the planner's
    parameters (each runner's ``params``, from its builder in ``inputs``), transcript links to
    the item's rows, and the scene's status when a phase stops without prose."""

    gated = False

    def prepare(self, item: BacklogItem) -> PhaseInput:
        if self.gated:
            blockers = blocking_requirements(item)
            if blockers:
                raise PhaseBlocked(describe_blockers(blockers))
        iteration = self.iteration(item)
        own = targets(item)
        return PhaseInput(
            params=self.params(item, iteration),
            iteration=iteration,
            links=links(
                blueprint=own.blueprint, scroll=own.scroll, section=own.section, scene=own.scene
            ),
        )

    def params(self, item: BacklogItem, iteration: int) -> BaseModel:
        """The planner's parameters; ``PhaseInputError`` when a row the phase needs is missing."""
        raise NotImplementedError(f"{type(self).__qualname__} must define params()")

    def iteration(self, item: BacklogItem) -> int:
        return 0

    def stopped(self, item: BacklogItem, status: str) -> None:
        if status in _SCENE_STATUS:
            mark_scene(item, _SCENE_STATUS[status])


class VisionRunner(FictionRunner):
    def params(self, item: BacklogItem, iteration: int) -> BaseModel:
        return vision_params(item)

    def checkpoint_target(self, item: BacklogItem) -> str:
        return f"plan:{item.plan_id}"

    def materialise(
        self, item: BacklogItem, reply: Any, phase_input: PhaseInput, *, actor: str
    ) -> Materialised:
        return materialise_vision(item, reply, actor=actor)


class IterativeRunner(FictionRunner):
    def params(self, item: BacklogItem, iteration: int) -> BaseModel:
        return iterative_params(item, iteration)

    def iteration(self, item: BacklogItem) -> int:
        return next_iteration(item)

    def materialise(
        self, item: BacklogItem, reply: Any, phase_input: PhaseInput, *, actor: str
    ) -> Materialised:
        return materialise_iterative(item, reply, iteration=phase_input.iteration)


class ChapterArchitectRunner(FictionRunner):
    def params(self, item: BacklogItem, iteration: int) -> BaseModel:
        return chapter_architect_params(item)

    def checkpoint_target(self, item: BacklogItem) -> str:
        blueprint_id = targets(item).blueprint_id
        return f"blueprint:{blueprint_id}" if blueprint_id else super().checkpoint_target(item)

    def materialise(
        self, item: BacklogItem, reply: Any, phase_input: PhaseInput, *, actor: str
    ) -> Materialised:
        return materialise_chapter(item, reply)


class ScrollRefinerRunner(FictionRunner):
    gated = True

    def params(self, item: BacklogItem, iteration: int) -> BaseModel:
        return scroll_refiner_params(item)

    def materialise(
        self, item: BacklogItem, reply: Any, phase_input: PhaseInput, *, actor: str
    ) -> Materialised:
        blueprint = resolve_blueprint(item)
        if blueprint is None:  # scroll_refiner_params refused this case before the call
            raise PhaseInputError("the chapter blueprint disappeared during the phase")
        return materialise_scroll(item, reply, blueprint=blueprint, actor=actor)


class SceneWeaverRunner(FictionRunner):
    gated = True

    def params(self, item: BacklogItem, iteration: int) -> BaseModel:
        return scene_weaver_params(item)

    def checkpoint_target(self, item: BacklogItem) -> str:
        scene_id = targets(item).scene_id
        return f"scene:{scene_id}" if scene_id else super().checkpoint_target(item)

    def materialise(
        self, item: BacklogItem, reply: Any, phase_input: PhaseInput, *, actor: str
    ) -> Materialised:
        return materialise_scene(item, reply)
