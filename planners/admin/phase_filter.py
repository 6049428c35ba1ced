"""The phase filter of the lists of phase records."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from planners.pipeline.registry import pipelines


class PhaseFilter(admin.SimpleListFilter):
    """Phases of every registered pipeline, in pipeline order (no query to list them)."""

    title = "phase"
    parameter_name = "phase"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return pipelines.phase_labels()

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(phase=value) if value else queryset
