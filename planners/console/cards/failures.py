"""The recent failures card: the health report's recent failures (``FAILURE_OUTCOMES`` within
the failure window), each with a link to its last phase transcript."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from planners.health import backlog as health_backlog
from planners.health import telemetry as health_telemetry
from planners.health.report import ExecutionRef, PlannerHealthReport
from planners.models import PhaseTranscript

SNIPPET_CHARS = 240


@dataclass
class FailureRow:
    run: ExecutionRef
    transcript: PhaseTranscript | None

    @property
    def snippet(self) -> str:
        """The reply that failed when a phase transcript has it, else the run's own last
        message; never a repeat of the error shown above it."""
        text = ""
        if self.transcript is not None:
            text = self.transcript.response or str(self.transcript.validation_details or "")
        text = " ".join(text.split()) or self.run.transcript_snippet
        if text == self.run.error:
            return ""
        return text[:SNIPPET_CHARS] + ("…" if len(text) > SNIPPET_CHARS else "")


def _failed_runs(report: PlannerHealthReport | None) -> tuple[ExecutionRef, ...]:
    if report is not None:
        return report.telemetry.recent_failures
    since = health_backlog.window_start(timezone.now(), settings.HEALTH_FAILURE_WINDOW_SECONDS)
    return health_telemetry.recent_failures(plan_id=None, since=since)[1]


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


def recent_failures(*, report: PlannerHealthReport | None = None) -> list[FailureRow]:
    """Read from ``report`` when the page built one, else one query; plus one for transcripts."""
    runs = _failed_runs(report)
    transcripts = _last_transcripts([run.id for run in runs])
    return [FailureRow(run, transcripts.get(run.id)) for run in runs]


def window_hours() -> int:
    return max(1, settings.HEALTH_FAILURE_WINDOW_SECONDS // 3600)
