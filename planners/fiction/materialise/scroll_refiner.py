"""The scroll refiner's writer: the scroll row, its sections and scenes, and a scene weaver item
for each scene that has none yet."""

from __future__ import annotations

from dataclasses import dataclass, field

from planners.fiction.materialise.rows import SLUG_MAX, links, upsert_row
from planners.fiction.phases import Phase
from planners.fiction.schemas import SceneOutline, ScrollRefinerReply, SectionOutline
from planners.fiction.targets import bind_targets
from planners.models import (
    BacklogItem,
    ChapterBlueprint,
    ChapterScene,
    ChapterScroll,
    ChapterSection,
    FictionItemTarget,
    LoreRequirement,
)
from planners.pipeline.registry import Materialised
from planners.pipeline.transitions import record_new_backlog_item


def scene_backlog_id(scroll: ChapterScroll, scene: ChapterScene) -> str:
    return f"scene-{scroll.scroll_slug}-{scene.scene_slug}"[:SLUG_MAX]


def materialise_scroll(
    item: BacklogItem, reply: ScrollRefinerReply, *, blueprint: ChapterBlueprint, actor: str
) -> Materialised:
    scroll, new_scroll = _upsert_scroll(item, reply, blueprint)
    scene_items = SceneItems.read(item, blueprint, scroll, actor=actor)
    scenes: list[ChapterScene] = []
    for section_order, section_reply in enumerate(reply.sections, start=1):
        section, new_section = _upsert_section(
            scroll, section_order, section_reply, parent_is_new=new_scroll
        )
        for scene_order, scene_reply in enumerate(section_reply.scenes, start=1):
            scene = _upsert_scene(section, scene_order, scene_reply, parent_is_new=new_section)
            scenes.append(scene)
            scene_items.add(section, scene)
    return Materialised(
        links=links(blueprint=blueprint, scroll=scroll),
        summary={
            "sections": [s.sectionSlug for s in reply.sections],
            "scenes": [scene.scene_slug for scene in scenes],
            "sceneIds": [scene.pk for scene in scenes],
            "sceneItems": scene_items.added,
        },
    )


def _upsert_scroll(
    item: BacklogItem, reply: ScrollRefinerReply, blueprint: ChapterBlueprint
) -> tuple[ChapterScroll, bool]:
    """The scroll row, bound to the item and to the lore requirements that name it."""
    scroll, new_scroll = upsert_row(
        ChapterScroll,
        {"plan": item.plan, "scroll_slug": reply.scrollSlug[:SLUG_MAX]},
        {
            "blueprint": blueprint,
            "title": reply.title[:300],
            "synopsis": reply.synopsis,
        },
    )
    bind_targets(item, scroll=scroll, blueprint=blueprint)
    _bind_lore(item.plan_id, scroll)
    return scroll, new_scroll


def _upsert_section(
    scroll: ChapterScroll, order: int, reply: SectionOutline, *, parent_is_new: bool
) -> tuple[ChapterSection, bool]:
    return upsert_row(
        ChapterSection,
        {"scroll": scroll, "section_slug": reply.sectionSlug[:SLUG_MAX]},
        {
            "order": order,
            "title": reply.title[:300],
            "summary": reply.summary,
            "transitions": list(reply.transitions),
        },
        parent_is_new=parent_is_new,
    )


def _upsert_scene(
    section: ChapterSection, order: int, reply: SceneOutline, *, parent_is_new: bool
) -> ChapterScene:
    # Outline fields only: a re-run keeps any prose and status already drafted.
    scene, _ = upsert_row(
        ChapterScene,
        {"section": section, "scene_slug": reply.sceneSlug[:SLUG_MAX]},
        {
            "order": order,
            "title": reply.title[:300],
            "goal": reply.goal,
            "conflict": reply.conflict,
            "turn": reply.turn,
            "fallout": reply.fallout,
            "carry_forward": list(reply.carryForward),
        },
        parent_is_new=parent_is_new,
    )
    return scene


@dataclass
class SceneItems:
    """The scene weaver items a scroll adds: one per scene the plan has no item for yet, placed
    after the plan's last item. ``stored``: the plan's backlog ids and their positions."""

    item: BacklogItem
    blueprint: ChapterBlueprint
    scroll: ChapterScroll
    actor: str
    stored: dict[str, int]
    position: int
    added: list[str] = field(default_factory=list)

    @classmethod
    def read(
        cls, item: BacklogItem, blueprint: ChapterBlueprint, scroll: ChapterScroll, *, actor: str
    ) -> SceneItems:
        # The plan's backlog ids and the next free position, in one read.
        stored = dict(
            BacklogItem.objects.filter(plan=item.plan)
            .order_by()
            .values_list("backlog_id", "position")
        )
        position = max(stored.values(), default=0) + 1
        return cls(item, blueprint, scroll, actor, stored, position)

    def add(self, section: ChapterSection, scene: ChapterScene) -> None:
        backlog_id = scene_backlog_id(self.scroll, scene)
        if backlog_id in self.stored:
            return
        scene_item = BacklogItem.objects.create(
            plan=self.item.plan,
            backlog_id=backlog_id,
            description=f"Draft the scene {scene.title or scene.scene_slug!r}.",
            phase=Phase.SCENE_WEAVER,
            position=self.position,
            inputs=list(self.item.outputs or []),
            outputs=[backlog_id],
        )
        FictionItemTarget.objects.create(
            item=scene_item,
            blueprint=self.blueprint,
            scroll=self.scroll,
            section=section,
            scene=scene,
        )
        self.stored[backlog_id] = self.position
        self.position += 1
        record_new_backlog_item(
            scene_item,
            reason="scroll-sync",
            actor=self.actor,
            detail=f"added by scroll refinement ({self.item.backlog_id})",
        )
        self.added.append(backlog_id)


def _bind_lore(plan_id: int, scroll: ChapterScroll) -> None:
    """Point requirements that name the scroll's slug at the scroll row. (A JSON ``contains``
    lookup would do this in one query on PostgreSQL, but SQLite lacks it.)"""
    for requirement in LoreRequirement.objects.filter(plan_id=plan_id, scroll__isnull=True):
        if scroll.scroll_slug in (requirement.required_for or []):
            requirement.scroll = scroll
            requirement.save(update_fields=["scroll", "updated_at"])
