"""What each phase is told: planner parameters read from the plan's materialised rows.

One builder per phase (``vision_params``, ``scene_weaver_params``...), called by that phase's
runner. The planners themselves never touch the database; the runner hands them plain text, so a
planner is testable with nothing but parameters and an agent. A builder raises
``PhaseInputError`` when a row its phase works on is missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from planners.fiction.chapter_architect import ChapterArchitectParams
from planners.fiction.iterative import IterativeParams
from planners.fiction.scene_weaver import SceneWeaverParams
from planners.fiction.scroll_refiner import ScrollRefinerParams
from planners.fiction.targets import targets
from planners.fiction.vision import VisionParams
from planners.models import (
    BacklogItem,
    ChapterBeat,
    ChapterBlueprint,
    ChapterScene,
    ChapterScroll,
    FictionProfile,
    FictionVision,
    Plan,
    PlanPass,
    Project,
)
from planners.pipeline.registry import PhaseBlocked


class PhaseInputError(PhaseBlocked):
    """The phase cannot run: something it works on is missing. The message says what."""


def profile_of(project: Project) -> FictionProfile:
    """The project's fiction profile (an empty one when nobody wrote it yet)."""
    try:
        return project.fiction_profile
    except FictionProfile.DoesNotExist:
        return FictionProfile(project=project)


def vision_of(plan: Plan) -> FictionVision:
    """What the plan's vision settled (empty before the vision phase ran)."""
    try:
        return plan.fiction_vision
    except FictionVision.DoesNotExist:
        return FictionVision(plan=plan)


def _lines(items: Iterable[str], bullet: str = "- ") -> str:
    return "\n".join(f"{bullet}{item}" for item in items if item)


def plan_description(plan: Plan) -> str:
    """The plan as the later phases see it: project description, logline and the vision."""
    project = plan.project
    logline = profile_of(project).logline
    vision = vision_of(plan)
    parts = [project.description, f"Logline: {logline}" if logline else ""]
    if vision.author_summary:
        parts.append(f"Vision: {vision.author_summary}")
    if vision.book_goals:
        parts.append("Book goals:\n" + _lines(str(goal) for goal in vision.book_goals))
    cast = list(plan.cast.all())
    if cast:
        parts.append("Cast:\n" + _lines(f"{c.name} ({c.role}): {c.summary}" for c in cast))
    return "\n\n".join(part for part in parts if part)


def passes_summary(passes: Iterable[PlanPass]) -> str:
    blocks = []
    for plan_pass in passes:
        lines = [
            *plan_pass.story_adjustments,
            *plan_pass.character_priorities,
            *plan_pass.location_notes,
            *plan_pass.systems_considerations,
            *(f"Risk: {risk}" for risk in plan_pass.risks),
        ]
        blocks.append(f"Pass {plan_pass.iteration}:\n" + _lines(str(line) for line in lines))
    return "\n\n".join(blocks)


def blueprint_synopsis(blueprint: ChapterBlueprint) -> str:
    return f"{blueprint.title}\n{blueprint.synopsis}".strip()


def blueprint_structure(
    blueprint: ChapterBlueprint, beats: Iterable[ChapterBeat] | None = None
) -> str:
    """The blueprint's beats, one a line (``beats``: the blueprint's beats when already read)."""
    return "\n".join(
        f"{beat.order}. {beat.slug}: {beat.summary} Goal: {beat.goal} Obstacle: "
        f"{beat.obstacle} Turn: {beat.turn} Fallout: {beat.fallout}"
        for beat in (blueprint.beats.all() if beats is None else beats)
    )


def blueprint_summary(blueprint: ChapterBlueprint) -> str:
    if not (blueprint.title or blueprint.synopsis):
        return ""
    return f"{blueprint_synopsis(blueprint)}\n{blueprint_structure(blueprint)}".strip()


def scroll_summary(scroll: ChapterScroll) -> str:
    lines = [f"{scroll.title} ({scroll.scroll_slug}): {scroll.synopsis}"]
    for section in scroll.sections.all():
        scenes = ", ".join(scene.scene_slug for scene in section.scenes.all())
        lines.append(f"- {section.section_slug}: {section.summary} Scenes: {scenes}")
    return "\n".join(lines)


def scene_description(scene: ChapterScene) -> str:
    """The scene outline shown to the model; the coverage gate reads its names from this."""
    lines = [
        f"Goal: {scene.goal}",
        f"Conflict: {scene.conflict}",
        f"Turn: {scene.turn}",
        f"Fallout: {scene.fallout}",
    ]
    if scene.carry_forward:
        lines.append("Carries forward: " + "; ".join(str(t) for t in scene.carry_forward))
    return "\n".join(lines)


def resolve_blueprint(item: BacklogItem) -> ChapterBlueprint | None:
    """The blueprint a scroll item refines: its own, the one its inputs came from, else the
    plan's most recent blueprint that has been designed (has beats)."""
    own = targets(item)
    if own.blueprint_id:
        return own.blueprint
    if own.scroll_id:
        return own.scroll.blueprint  # type: ignore[union-attr]
    inputs = set(item.inputs or [])
    if inputs:
        for source in (
            item.plan.backlog_items.filter(fiction_target__blueprint__isnull=False)
            .exclude(pk=item.pk)
            .select_related("fiction_target__blueprint")
        ):
            if inputs & set(source.outputs or []):
                return source.fiction_target.blueprint
    return (
        ChapterBlueprint.objects.filter(plan=item.plan, beats__isnull=False)
        .distinct()
        .order_by("-id")
        .first()
    )


def next_iteration(item: BacklogItem) -> int:
    """The pass number this iterative item writes: its own pass again if it wrote one before
    (a re-run), else the pass after the plan's existing ones. Counting from the highest number
    rather than the number of rows keeps a deleted pass from handing out a number in use."""
    passes = list(
        PlanPass.objects.filter(plan_id=item.plan_id).values_list("iteration", "backlog_item_id")
    )
    own = next((iteration for iteration, item_id in passes if item_id == item.pk), None)
    if own is not None:
        return own
    return max((iteration for iteration, _ in passes), default=0) + 1


def _persona(plan: Plan) -> dict[str, str]:
    profile = profile_of(plan.project)
    return {
        "authorPersonaName": profile.author_persona_name or "the author of this book",
        "authorPersonaSummary": profile.author_persona_summary,
        "authorPersonaMemories": profile.author_persona_memories,
        "authorWorldNotes": profile.author_world_notes,
    }


def vision_params(item: BacklogItem) -> VisionParams:
    plan = item.plan
    project = plan.project
    return VisionParams(
        projectTitle=project.title,
        branch=plan.branch,
        description=project.description,
        logline=profile_of(project).logline,
    )


def iterative_params(item: BacklogItem, iteration: int) -> IterativeParams:
    """``iteration``: the pass number this item writes (``next_iteration``)."""
    plan = item.plan
    earlier = PlanPass.objects.filter(plan=plan).exclude(backlog_item=item)
    return IterativeParams(
        planName=plan.name,
        branch=plan.branch,
        description=plan_description(plan),
        iterationIndex=iteration,
        existingPasses=passes_summary(earlier),
    )


def chapter_architect_params(item: BacklogItem) -> ChapterArchitectParams:
    plan = item.plan
    own = targets(item).blueprint
    existing = blueprint_summary(own) if own else ""
    return ChapterArchitectParams(
        planName=plan.name,
        branch=plan.branch,
        description=plan_description(plan),
        passesSummary=passes_summary(PlanPass.objects.filter(plan=plan)),
        existingBlueprintSummary=existing,
    )


def scroll_refiner_params(item: BacklogItem) -> ScrollRefinerParams:
    """``PhaseInputError`` when the item has no chapter blueprint with beats to refine yet."""
    plan = item.plan
    blueprint = resolve_blueprint(item)
    scroll = targets(item).scroll
    beats = list(blueprint.beats.all()) if blueprint is not None else []
    if blueprint is None or not beats:
        raise PhaseInputError(
            f"backlog item {item.backlog_id!r} has no designed chapter blueprint to refine; "
            "run the chapter architect first"
        )
    return ScrollRefinerParams(
        planName=plan.name,
        branch=plan.branch,
        description=plan_description(plan),
        blueprintSynopsis=blueprint_synopsis(blueprint),
        blueprintStructure=blueprint_structure(blueprint, beats),
        scrollSummary=scroll_summary(scroll) if scroll is not None else item.description,
        **_persona(plan),
    )


def scene_weaver_params(item: BacklogItem) -> SceneWeaverParams:
    """``PhaseInputError`` when the item is not bound to a scene."""
    plan = item.plan
    scene = targets(item).scene
    if scene is None:
        raise PhaseInputError(f"backlog item {item.backlog_id!r} is not bound to a scene")
    section = scene.section
    scroll = section.scroll
    cast_names = list(plan.cast.values_list("name", flat=True))
    metadata = {
        "sceneSlug": scene.scene_slug,
        "sectionSlug": section.section_slug,
        "scrollSlug": scroll.scroll_slug,
        "order": scene.order,
        "carryForward": scene.carry_forward,
    }
    return SceneWeaverParams(
        planName=plan.name,
        branch=plan.branch,
        sceneTitle=scene.title or scene.scene_slug,
        sceneSlug=scene.scene_slug,
        sceneDescription=scene_description(scene),
        sceneMetadata=json.dumps(metadata, ensure_ascii=False),
        sectionSummary=f"{section.title}: {section.summary}",
        scrollSynopsis=f"{scroll.title}: {scroll.synopsis}",
        blueprintStructure=blueprint_structure(scroll.blueprint),
        castNames=cast_names,
        **_persona(plan),
    )
