"""Worker, beat and alert-evaluation heartbeats: read only, the processes write them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from cognition.liveness import ALIVE_AFTER_INTERVALS
from cognition.models import ProcessHeartbeat


@admin.register(ProcessHeartbeat)
class ProcessHeartbeatAdmin(admin.ModelAdmin):
    """What ``/healthz/workers`` and the console banner read, row by row: which worker or beat
    reported when, and whether that is recent enough to count as alive."""

    list_display = ["kind", "host", "pid", "queue_names", "started_at", "last_seen", "alive"]
    list_filter = ["kind"]
    search_fields = ["host"]
    readonly_fields = ("kind", "host", "pid", "queues", "started_at", "last_seen")
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="queues")
    def queue_names(self, obj: ProcessHeartbeat) -> str:
        return ", ".join(obj.queues or []) or "—"

    @admin.display(boolean=True)
    def alive(self, obj: ProcessHeartbeat) -> bool:
        window = timedelta(seconds=ALIVE_AFTER_INTERVALS * settings.LIVENESS_INTERVAL_SECONDS)
        return obj.last_seen >= timezone.now() - window
