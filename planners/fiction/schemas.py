"""Typed reply shapes of the fiction phases: one source for the prompt and for validation
(``planners.framework.replies`` renders and parses them).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from planners.framework.replies import (
    ReplyModel,
    Slug,
    Text,
)

# --- vision -------------------------------------------------------------------------------------


class CastEntry(ReplyModel):
    name: Text = Field(description="character name")
    role: str = Field(description="role in the story")
    track: str = Field(description="the arc this character follows")
    importance: str = Field(description="why the book needs them")
    summary: str = Field(description="one or two sentences")


class LoreNeed(ReplyModel):
    title: Text = Field(description="lore the book needs")
    requirementSlug: Slug = Field(description="kebab-case id")
    status: Literal["planned", "ready", "missing"]
    description: str = Field(description="what must be worked out")
    requiredFor: list[str] = Field(
        default_factory=list,
        description="backlog ids or scroll/scene slugs it gates (empty: whole plan)",
    )


class BacklogEntry(ReplyModel):
    id: Slug = Field(description="kebab-case backlog id, unique in the plan")
    description: Text = Field(description="the planning pass still needed")
    status: str | None = Field(default=None, description="pending|complete")
    inputs: list[str] = Field(description="tokens this pass needs (outputs of earlier passes)")
    outputs: list[str] = Field(description="tokens this pass produces")


class VisionReply(ReplyModel):
    authorSummary: Text = Field(description="the author's intent in a paragraph")
    bookGoals: list[str] = Field(description="what the book must achieve")
    coreCast: list[CastEntry]
    supportingCast: list[CastEntry]
    loreNeeds: list[LoreNeed]
    planningBacklog: list[BacklogEntry] = Field(min_length=1)
    openQuestions: list[str] = Field(default_factory=list, description="questions still open")
    worldSeeds: list[str] = Field(default_factory=list, description="world details to plant")

    @model_validator(mode="after")
    def _unique_ids(self) -> VisionReply:
        _reject_duplicates([entry.id for entry in self.planningBacklog], "planningBacklog", "id")
        _reject_duplicates(
            [need.requirementSlug for need in self.loreNeeds], "loreNeeds", "requirementSlug"
        )
        return self


# --- iterative ----------------------------------------------------------------------------------


class IterativeReply(ReplyModel):
    storyAdjustments: list[str] = Field(description="changes to the story plan")
    characterPriorities: list[str] = Field(description="characters to develop next")
    locationNotes: list[str] = Field(description="places and what happens there")
    systemsConsiderations: list[str] = Field(description="magic, politics, economies")
    risks: list[str] = Field(description="what could break the plan")


# --- chapter architect --------------------------------------------------------------------------


class Beat(ReplyModel):
    slug: Slug = Field(description="kebab-case beat id")
    summary: Text = Field(description="what happens")
    goal: str = Field(description="what the viewpoint character wants")
    obstacle: str = Field(description="what stands in the way")
    turn: str = Field(description="how the situation changes")
    fallout: str = Field(description="the consequence")
    carryForward: list[str] = Field(description="threads the next beats pick up")


class ChapterArchitectReply(ReplyModel):
    title: Text = Field(description="chapter title")
    synopsis: Text = Field(description="chapter synopsis")
    structure: list[Beat] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_beats(self) -> ChapterArchitectReply:
        _reject_duplicates([beat.slug for beat in self.structure], "structure", "slug")
        return self


# --- scroll refiner -----------------------------------------------------------------------------


class SceneOutline(ReplyModel):
    sceneSlug: Slug = Field(description="kebab-case scene id, unique in the scroll")
    title: Text = Field(description="scene title")
    goal: str = Field(description="what the scene must achieve")
    conflict: str = Field(description="who or what opposes it")
    turn: str = Field(description="the reversal")
    fallout: str = Field(description="the consequence")
    carryForward: list[str] = Field(description="threads later scenes pick up")


class SectionOutline(ReplyModel):
    sectionSlug: Slug = Field(description="kebab-case section id")
    title: Text = Field(description="section title")
    summary: str = Field(description="what the section covers")
    transitions: list[str] = Field(description="how it hands over to the next section")
    scenes: list[SceneOutline] = Field(min_length=1)


class ScrollRefinerReply(ReplyModel):
    scrollSlug: Slug = Field(description="kebab-case scroll id")
    title: Text = Field(description="scroll title")
    synopsis: Text = Field(description="scroll synopsis")
    sections: list[SectionOutline] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_slugs(self) -> ScrollRefinerReply:
        _reject_duplicates([s.sectionSlug for s in self.sections], "sections", "sectionSlug")
        # Scene slugs name backlog items (``scene-<slug>``), so they must be unique per scroll.
        _reject_duplicates(
            [scene.sceneSlug for section in self.sections for scene in section.scenes],
            "sections[].scenes",
            "sceneSlug",
        )
        return self


def _reject_duplicates(values: list[str], where: str, key: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{where}: duplicate {key} {value!r}")
        seen.add(value)
