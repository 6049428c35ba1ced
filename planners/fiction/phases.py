"""The fiction phases: which planner runs each, how backlog entries map to them, phase keys.

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

from planners.models import BacklogItem, Phase

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


def planner_slug_for(phase: str) -> str:
    """The catalog slug of the planner that runs ``phase``."""
    try:
        return PLANNER_SLUGS[phase]
    except KeyError:
        known = ", ".join(PLANNER_SLUGS)
        raise ValueError(f"unknown fiction phase {phase!r}; phases: {known}") from None


def infer_phase(backlog_id: str, outputs: Iterable[str]) -> str:
    """The phase that runs a vision backlog entry (see the module docstring for the rules)."""
    words = set(_WORD_RE.findall(" ".join([backlog_id, *outputs]).lower()))
    for phase, markers in _PHASE_WORDS:
        if words & markers:
            return phase
    return Phase.ITERATIVE


def phase_key(item: BacklogItem, *, branch: str) -> str:
    """The checkpoint key of the phase that runs ``item``: ``<phase>|<branch>|<target>``.

    The target is the row the phase works on when it exists before the phase runs (the plan,
    the blueprint, the scene), else the backlog item, so the key is stable across retries.
    """
    if item.phase == Phase.VISION:
        target = f"plan:{item.plan_id}"
    elif item.phase == Phase.CHAPTER_ARCHITECT and item.blueprint_id:
        target = f"blueprint:{item.blueprint_id}"
    elif item.phase == Phase.SCENE_WEAVER and item.scene_id:
        target = f"scene:{item.scene_id}"
    else:
        target = f"item:{item.backlog_id}"
    return f"{item.phase}|{branch}|{target}"
