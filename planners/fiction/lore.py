"""The lore gate: unresolved lore requirements hold back the scroll and scene phases.

A requirement binds to a scroll or scene phase when it is plan-wide (``required_for`` empty and no
scroll set) or names what the phase works on: the scroll (by FK or slug), one of the scroll's
scenes or sections, the scene itself, the chapter blueprint, or the backlog item. A bound
requirement that is still ``planned`` or ``blocked`` stops the phase before any model call.
"""

from __future__ import annotations

from planners.fiction.inputs import resolve_blueprint
from planners.fiction.phases import Phase
from planners.fiction.targets import targets
from planners.models import BacklogItem, LoreRequirement

GATED_PHASES = frozenset({Phase.SCROLL_REFINER, Phase.SCENE_WEAVER})
UNRESOLVED = (LoreRequirement.Status.PLANNED, LoreRequirement.Status.BLOCKED)


def _targets(item: BacklogItem) -> tuple[set[str], int | None]:
    """The slugs a requirement may name to gate ``item``, and the scroll id it may point at."""
    names = {item.backlog_id}
    own = targets(item)
    scroll = own.scroll
    if item.phase == Phase.SCENE_WEAVER and own.scene is not None:
        scene = own.scene
        names.update({scene.scene_slug, scene.section.section_slug})
        scroll = scene.section.scroll
    elif scroll is not None:
        for section in scroll.sections.prefetch_related("scenes"):
            names.add(section.section_slug)
            names.update(scene.scene_slug for scene in section.scenes.all())
    blueprint = scroll.blueprint if scroll is not None else resolve_blueprint(item)
    if scroll is not None:
        names.add(scroll.scroll_slug)
    if blueprint is not None:
        names.add(blueprint.slug)
    return names, scroll.pk if scroll is not None else None


def blocking_requirements(item: BacklogItem) -> list[LoreRequirement]:
    """The unresolved lore requirements that block the phase of ``item`` (empty: free to run)."""
    if item.phase not in GATED_PHASES:
        return []
    names, scroll_id = _targets(item)
    blocking = []
    for requirement in LoreRequirement.objects.filter(plan_id=item.plan_id, status__in=UNRESOLVED):
        bound_to = set(requirement.required_for or [])
        plan_wide = not bound_to and requirement.scroll_id is None
        if (
            plan_wide
            or bound_to & names
            or (scroll_id is not None and requirement.scroll_id == scroll_id)
        ):
            blocking.append(requirement)
    return blocking


def describe_blockers(requirements: list[LoreRequirement]) -> str:
    """The phase result's reason: every blocking requirement by slug, title and status."""
    listed = "; ".join(
        f"{r.requirement_slug} ({r.title}, {r.get_status_display().lower()})" for r in requirements
    )
    return f"blocked by unresolved lore requirement(s): {listed}"
