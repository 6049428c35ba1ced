"""The recent failures card: failed and blocked runs (``FAILURE_OUTCOMES``) within the failure
window, grouped per backlog item ("failed 12 times since 09:57"), each with its last error, its last
transcript and Resume when the item can be resumed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Max, Min
from django.utils import timezone

from planners.actions import can_resume
from planners.health import backlog as health_backlog
from planners.health.telemetry import FAILURE_OUTCOMES
from planners.models import BacklogItem, PhaseTranscript, PlannerExecution

SNIPPET_CHARS = 240
GROUPS_SHOWN = 10


@dataclass
class FailureGroup:
    """One item's failed runs in the window: how many, since when, and the last of them."""

    last_run: PlannerExecution
    failures: int
    since: datetime
    transcript: PhaseTranscript | None
    can_resume: bool

    @property
    def item(self) -> BacklogItem | None:
        return self.last_run.backlog_item

    @property
    def snippet(self) -> str:
        """The reply that failed when a phase transcript has it; never a repeat of the error."""
        text = ""
        if self.transcript is not None:
            text = self.transcript.response or str(self.transcript.validation_details or "")
        text = " ".join(text.split())
        if text == self.last_run.error:
            return ""
        return text[:SNIPPET_CHARS] + ("…" if len(text) > SNIPPET_CHARS else "")


def _last_transcripts(execution_ids: list[int]) -> dict[int, PhaseTranscript]:
    """Each run's last transcript (one query, none without runs)."""
    if not execution_ids:
        return {}
    transcripts = (
        PhaseTranscript.objects.filter(execution_id__in=execution_ids)
        .order_by("execution_id", "-attempt", "-id")
        .only("id", "execution_id", "attempt", "response", "validation_details")
    )
    last: dict[int, PhaseTranscript] = {}
    for transcript in transcripts:
        if transcript.execution_id is not None:
            last.setdefault(transcript.execution_id, transcript)
    return last


def recent_failures(*, now: datetime | None = None) -> list[FailureGroup]:
    """The most recently failing items, one group each; three queries (the groups, their last
    runs with item and plan, those runs' last transcripts), whatever the number of failures."""
    now = now or timezone.now()
    since = health_backlog.window_start(now, settings.HEALTH_FAILURE_WINDOW_SECONDS)
    groups = list(
        PlannerExecution.objects.filter(
            synthetic=False, outcome__in=FAILURE_OUTCOMES, created_at__gte=since
        )
        .values("backlog_item_id", "planner_slug")
        .annotate(failures=Count("id"), since=Min("created_at"), last_id=Max("id"))
        .order_by("-last_id")[:GROUPS_SHOWN]
    )
    runs = PlannerExecution.objects.select_related("backlog_item", "plan").in_bulk(
        [group["last_id"] for group in groups]
    )
    transcripts = _last_transcripts(list(runs))
    shown = []
    for group in groups:
        run = runs[group["last_id"]]
        resumable = run.backlog_item is not None and can_resume(run.backlog_item, now)[0]
        shown.append(
            FailureGroup(run, group["failures"], group["since"], transcripts.get(run.pk), resumable)
        )
    return shown


def window_hours() -> int:
    return max(1, settings.HEALTH_FAILURE_WINDOW_SECONDS // 3600)
