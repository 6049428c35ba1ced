"""The provider limits' state kept in the database: read only, the workers write it."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from cognition.models import AgentBackendLimit


@admin.register(AgentBackendLimit)
class AgentBackendLimitAdmin(admin.ModelAdmin):
    """The provider limits' state when it is kept in the database (a Redis broker keeps it in
    Redis instead): read only, the workers write it."""

    list_display = [
        "backend",
        "calls_in_flight",
        "requests_tat",
        "tokens_tat",
        "paused_until",
    ]
    search_fields = ["backend"]
    readonly_fields = (
        "backend",
        "leases",
        "requests_tat",
        "tokens_tat",
        "paused_until",
        "updated_at",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="calls in flight")
    def calls_in_flight(self, obj: AgentBackendLimit) -> int:
        now = timezone.now().timestamp()
        return sum(1 for expiry in obj.leases.values() if expiry > now)
