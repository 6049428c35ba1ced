"""The scene weaver's writer: the drafted prose on the item's scene, or the scene's status when
the phase stopped without prose."""

from __future__ import annotations

from django.utils import timezone

from planners.fiction.materialise.rows import links
from planners.fiction.scene_weaver import SceneDraft
from planners.fiction.targets import targets
from planners.models import BacklogItem, ChapterScene
from planners.pipeline.registry import Materialised


def materialise_scene(item: BacklogItem, draft: SceneDraft) -> Materialised:
    scene = targets(item).scene
    assert scene is not None  # the runner refuses a scene item without a scene before the call
    scene.prose = draft.prose
    scene.word_count = draft.wordCount
    scene.status = ChapterScene.Status.DRAFTED
    scene.save(update_fields=["prose", "word_count", "status", "updated_at"])
    return Materialised(
        links=links(scene=scene, section=scene.section, scroll=scene.section.scroll),
        summary={"wordCount": draft.wordCount, "coverage": draft.coverageRatio},
    )


def mark_scene(item: BacklogItem, status: str) -> None:
    """Record a scene phase that did not produce prose (blocked by the gate, or failed)."""
    scene_id = targets(item).scene_id
    if scene_id is not None:
        ChapterScene.objects.filter(pk=scene_id).update(status=status, updated_at=timezone.now())
