"""Phase transcripts: one row per agent attempt of a phase, whatever became of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from planners.framework.result import AgentAttempt
from planners.models import BacklogItem, PhaseTranscript, PlannerExecution


@dataclass
class AttemptRecord:
    """One agent call in the shape a transcript needs (or a phase that ended before any)."""

    attempt: int
    kind: str
    agent_phase: str
    request: list[dict[str, str]]
    response: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0
    validation_status: str = PhaseTranscript.Validation.UNKNOWN
    validation_details: list[str] = field(default_factory=list)
    template_id: str = ""
    template_version: int | None = None
    error: str = ""

    @classmethod
    def from_agent_attempt(cls, attempt: AgentAttempt) -> AttemptRecord:
        return cls(
            attempt=attempt.attempt,
            kind=attempt.kind,
            agent_phase=attempt.phase,
            request=[{"role": m.role, "content": m.content} for m in attempt.messages],
            response=attempt.response,
            prompt_tokens=attempt.prompt_tokens,
            completion_tokens=attempt.completion_tokens,
            latency_ms=attempt.latency_ms,
            validation_status=attempt.validation_status,
            validation_details=list(attempt.validation_details),
            template_id=attempt.template_id,
            template_version=attempt.template_version,
            error=attempt.error,
        )

    @classmethod
    def no_call(
        cls, item: BacklogItem, reason: str, template_id: str, *, validation: str = ""
    ) -> AttemptRecord:
        """The phase ended before any agent call: the row says why."""
        return cls(
            attempt=1,
            kind="none",
            agent_phase=item.phase,
            request=[],
            validation_status=validation or PhaseTranscript.Validation.SKIPPED,
            validation_details=[reason] if reason else [],
            template_id=template_id,
            error=reason,
        )


def write_transcripts(
    item: BacklogItem,
    attempts: Sequence[AttemptRecord],
    *,
    metadata: dict[str, Any],
    execution: PlannerExecution | None,
) -> list[PhaseTranscript]:
    """Insert one transcript per attempt, numbered after the item's earlier ones, in one
    INSERT. ``metadata``: what every row of this phase carries (``backlogItemId``, ``phase``,
    ``branch``, the rows it touched...)."""
    earlier = PhaseTranscript.objects.filter(backlog_item_id=item.pk).count()
    rows = []
    for offset, attempt in enumerate(attempts, start=1):
        number = earlier + offset
        rows.append(
            PhaseTranscript(
                plan_id=item.plan_id,
                phase=item.phase,
                backlog_item=item,
                execution=execution,
                attempt=number,
                is_retry=number > 1,
                request=attempt.request,
                response=attempt.response,
                prompt_tokens=attempt.prompt_tokens,
                completion_tokens=attempt.completion_tokens,
                latency_ms=attempt.latency_ms,
                validation_status=attempt.validation_status,
                validation_details=attempt.validation_details,
                template_id=attempt.template_id,
                template_version=attempt.template_version,
                metadata={
                    **metadata,
                    "attemptKind": attempt.kind,
                    "agentPhase": attempt.agent_phase,
                    "runAttempt": attempt.attempt,
                    **({"error": attempt.error} if attempt.error else {}),
                },
            )
        )
    return PhaseTranscript.objects.bulk_create(rows)
