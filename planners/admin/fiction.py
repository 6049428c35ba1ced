"""Fiction's own records: vision, cast, passes, chapters, scrolls, sections, scenes and lore."""

from __future__ import annotations

from django.contrib import admin

from planners.admin.read_only import ReadOnlyAdmin
from planners.models import (
    CastMember,
    ChapterBeat,
    ChapterBlueprint,
    ChapterScene,
    ChapterScroll,
    ChapterSection,
    FictionItemTarget,
    FictionVision,
    LoreRequirement,
    PlanPass,
)


@admin.register(FictionVision)
class FictionVisionAdmin(admin.ModelAdmin):
    list_display = ("plan", "author_summary")
    search_fields = ("plan__name", "author_summary")
    list_select_related = ("plan",)


@admin.register(FictionItemTarget)
class FictionItemTargetAdmin(ReadOnlyAdmin):
    list_display = ("item", "blueprint", "scroll", "section", "scene")
    list_select_related = ("item", "blueprint", "scroll", "section", "scene")
    search_fields = ("item__backlog_id",)


@admin.register(CastMember)
class CastMemberAdmin(admin.ModelAdmin):
    list_display = ("name", "plan", "tier", "role", "importance")
    list_filter = ("tier",)
    search_fields = ("name", "role", "summary", "plan__name")
    list_select_related = ("plan",)


@admin.register(PlanPass)
class PlanPassAdmin(admin.ModelAdmin):
    list_display = ("__str__", "plan", "iteration", "created_at")
    search_fields = ("plan__name",)
    list_select_related = ("plan",)


class ChapterBeatInline(admin.TabularInline):
    model = ChapterBeat
    extra = 0
    fields = ("order", "slug", "summary", "goal", "obstacle", "turn", "fallout", "carry_forward")


@admin.register(ChapterBlueprint)
class ChapterBlueprintAdmin(admin.ModelAdmin):
    list_display = ("slug", "title", "plan", "updated_at")
    search_fields = ("slug", "title", "synopsis", "plan__name")
    list_select_related = ("plan",)
    inlines = (ChapterBeatInline,)


@admin.register(ChapterScroll)
class ChapterScrollAdmin(admin.ModelAdmin):
    list_display = ("scroll_slug", "title", "plan", "blueprint", "created_at")
    search_fields = ("scroll_slug", "title", "synopsis", "plan__name")
    list_select_related = ("plan", "blueprint")


@admin.register(ChapterSection)
class ChapterSectionAdmin(admin.ModelAdmin):
    list_display = ("section_slug", "title", "scroll", "order")
    search_fields = ("section_slug", "title", "summary", "scroll__scroll_slug")
    list_select_related = ("scroll",)


@admin.register(ChapterScene)
class ChapterSceneAdmin(admin.ModelAdmin):
    list_display = ("scene_slug", "title", "section", "status", "word_count", "updated_at")
    list_filter = ("status",)
    search_fields = ("scene_slug", "title", "goal", "section__section_slug")
    list_select_related = ("section", "section__scroll")


@admin.register(LoreRequirement)
class LoreRequirementAdmin(admin.ModelAdmin):
    list_display = ("requirement_slug", "title", "plan", "status", "scroll", "updated_at")
    list_filter = ("status",)
    search_fields = ("requirement_slug", "title", "description", "plan__name")
    list_select_related = ("plan", "scroll")
