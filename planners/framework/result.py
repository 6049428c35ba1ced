"""What a planner run returns: the outcome, the reply, every agent attempt, metrics, diagnostics.

The same values are persisted on the ``PlannerExecution`` row; ``to_json()`` methods give the
JSON-ready shapes stored there so the console reads exactly what the run returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from django.utils import timezone

from cognition.agents.base import ChatMessage
from planners.models.execution import PlannerOutcome

if TYPE_CHECKING:
    from planners.models import PlannerExecution

__all__ = [
    "AgentAttempt",
    "AttemptKind",
    "CritiqueStatus",
    "PlannerDiagnostics",
    "PlannerMetrics",
    "PlannerOutcome",
    "PlannerResult",
    "StepRun",
    "TranscriptEntry",
    "ValidationStatus",
]

ValidationStatus = Literal["passed", "failed", "skipped", "unknown"]
AttemptKind = Literal["reply", "repair", "critique"]


class CritiqueStatus:
    """Values of ``critique_status``.

    ``disabled``: critique is off for this planner. ``passed``: the critic approved the reply as
    it was. ``revised``: the critic replaced the reply with a better valid one and then approved
    it (or the budget ended right after a revision). ``exhausted``: the budget ran out before
    the critic approved. ``error``: the critique call itself failed; the valid reply stands.
    ``skipped``: the run ended before a reply could be critiqued.
    """

    DISABLED = "disabled"
    PASSED = "passed"
    REVISED = "revised"
    EXHAUSTED = "exhausted"
    ERROR = "error"
    SKIPPED = "skipped"


#: Outcomes that produced a usable reply.
SUCCESSFUL_OUTCOMES = frozenset({PlannerOutcome.SUCCESS, PlannerOutcome.PARTIAL})


@dataclass
class TranscriptEntry:
    """One message of the conversation, as shown in the console's run transcript."""

    role: str
    message: str
    metadata: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=timezone.now)

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "message": self.message,
            "metadata": self.metadata,
            "at": self.at.isoformat(),
        }


@dataclass
class AgentAttempt:
    """One agent call. Runners write one ``PhaseTranscript`` per attempt from these."""

    step_id: str
    attempt: int
    is_retry: bool
    messages: list[ChatMessage]
    response: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0
    validation_status: ValidationStatus = "unknown"
    validation_details: list[str] = field(default_factory=list)
    template_id: str = ""
    template_version: int | None = None
    error: str = ""
    kind: AttemptKind = "reply"
    phase: str = ""

    @property
    def request_text(self) -> str:
        """The conversation sent, flattened for display and storage."""
        return "\n\n".join(f"[{m.role}]\n{m.content}" for m in self.messages)

    def to_json(self) -> dict[str, Any]:
        return {
            "step_id": self.step_id,
            "attempt": self.attempt,
            "is_retry": self.is_retry,
            "kind": self.kind,
            "phase": self.phase,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_ms": self.latency_ms,
            "validation_status": self.validation_status,
            "validation_details": self.validation_details,
            "template_id": self.template_id,
            "template_version": self.template_version,
            "error": self.error,
        }


@dataclass
class StepRun:
    """How one step of the planner went: which prompt it used and whether its reply validated."""

    step_id: str
    template_id: str
    template_version: int | None = None
    used_fallback: bool = False
    validation_status: ValidationStatus = "skipped"
    validation_details: list[str] = field(default_factory=list)
    attempts: int = 0
    critique_count: int = 0
    critique_status: str = CritiqueStatus.SKIPPED

    def to_json(self) -> dict[str, Any]:
        return {
            "step_id": self.step_id,
            "template_id": self.template_id,
            "template_version": self.template_version,
            "used_fallback": self.used_fallback,
            "validation_status": self.validation_status,
            "validation_details": self.validation_details,
            "attempts": self.attempts,
            "critique_count": self.critique_count,
            "critique_status": self.critique_status,
        }


@dataclass
class PlannerMetrics:
    """Counts for the run. ``prompt_tokens``/``completion_tokens``/``latency_ms`` cover the reply
    and repair calls; critique calls are counted apart in ``critique_tokens``."""

    duration_ms: int = 0
    latency_ms: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    critique_count: int = 0
    critique_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens + self.critique_tokens

    def to_json(self) -> dict[str, int]:
        return {
            "duration_ms": self.duration_ms,
            "latency_ms": self.latency_ms,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "critique_count": self.critique_count,
            "critique_tokens": self.critique_tokens,
        }


@dataclass
class PlannerDiagnostics:
    """Why the run ended the way it did, in words an operator can act on."""

    validation_status: ValidationStatus = "skipped"
    validation_summary: str = ""
    critique_status: str = CritiqueStatus.SKIPPED
    quota_limit: str = ""
    details: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "validation_status": self.validation_status,
            "validation_summary": self.validation_summary,
            "critique_status": self.critique_status,
            "quota_limit": self.quota_limit,
            "details": self.details,
        }


@dataclass
class PlannerResult:
    """The outcome of ``PlannerBase.plan()``.

    The validated reply of the last step is ``artifacts["reply"]``; every step's reply is in
    ``artifacts["replies"][step_id]``. ``execution`` is the persisted row.
    """

    outcome: PlannerOutcome
    artifacts: dict[str, Any] = field(default_factory=dict)
    steps: list[StepRun] = field(default_factory=list)
    transcript: list[TranscriptEntry] = field(default_factory=list)
    metrics: PlannerMetrics = field(default_factory=PlannerMetrics)
    diagnostics: PlannerDiagnostics = field(default_factory=PlannerDiagnostics)
    error: str = ""
    execution: PlannerExecution | None = None
    attempts: list[AgentAttempt] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the run produced a usable reply (``success`` or ``partial``)."""
        return self.outcome in SUCCESSFUL_OUTCOMES

    @property
    def reply(self) -> Any:
        return self.artifacts.get("reply")

    @property
    def used_fallback(self) -> bool:
        return any(s.used_fallback for s in self.steps)

    @property
    def template_id(self) -> str:
        return self.steps[0].template_id if self.steps else ""

    @property
    def template_version(self) -> int | None:
        return self.steps[0].template_version if self.steps else None
