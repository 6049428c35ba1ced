"""The fiction phases: their keys, which planner runs each, and how a vision entry maps to one.

Mapping a vision backlog entry to a phase
-----------------------------------------
The vision reply lists planning passes as free-form entries (``id``, ``description``,
``inputs``, ``outputs``). The phase that runs an entry is inferred from the words of its id and
output tokens, checked in this order (first match wins):

1. ``vision``                       → ``vision`` (the plan's own vision pass);
2. ``scroll``, ``section``, ``scene`` → ``scrollRefiner`` (scenes come out of a scroll);
3. ``blueprint``, ``chapter``, ``beat``, ``beats`` → ``chapterArchitect``;
4. anything else (``outline``, ``pass``, ``iterative``, ``conflicts``...) → ``iterative``.

So ``chapter-one-scroll`` is a scroll refinement (rule 2 before rule 3) and
``outline-core-conflicts`` an iterative pass. Scene items are never taken from the vision reply:
the scroll refiner creates one per scene it materialises, bound to the scene row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import models


class Phase(models.TextChoices):
    VISION = "vision", "Vision"
    ITERATIVE = "iterative", "Iterative"
    CHAPTER_ARCHITECT = "chapterArchitect", "Chapter architect"
    SCROLL_REFINER = "scrollRefiner", "Scroll refiner"
    SCENE_WEAVER = "sceneWeaver", "Scene weaver"


#: The backlog item every plan starts with; vision syncs the rest.
VISION_BACKLOG_ID = "vision-plan"
#: The token the vision item outputs, so vision-listed passes can depend on it.
VISION_OUTPUT = "vision"

PLANNER_SLUGS: dict[str, str] = {
    Phase.VISION: "vision",
    Phase.ITERATIVE: "iterative",
    Phase.CHAPTER_ARCHITECT: "chapter-architect",
    Phase.SCROLL_REFINER: "scroll-refiner",
    Phase.SCENE_WEAVER: "scene-weaver",
}

_PHASE_WORDS: tuple[tuple[str, frozenset[str]], ...] = (
    (Phase.VISION, frozenset({"vision"})),
    (Phase.SCROLL_REFINER, frozenset({"scroll", "scrolls", "section", "sections", "scene"})),
    (
        Phase.CHAPTER_ARCHITECT,
        frozenset({"blueprint", "blueprints", "chapter", "chapters", "beat", "beats"}),
    ),
)
_WORD_RE = re.compile(r"[a-z0-9]+")


def infer_phase(backlog_id: str, outputs: Iterable[str]) -> str:
    """The phase that runs a vision backlog entry (see the module docstring for the rules)."""
    words = set(_WORD_RE.findall(" ".join([backlog_id, *outputs]).lower()))
    for phase, markers in _PHASE_WORDS:
        if words & markers:
            return phase
    return Phase.ITERATIVE
