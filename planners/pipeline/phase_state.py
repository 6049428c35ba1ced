"""What the three steps of a phase hand each other (``planners.pipeline.phase`` tells the
story): the ``Claim`` that ``claim`` returns, the ``PhaseRun`` that ``run`` returns and the
``PhaseResult`` that ``record`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from planners.framework.base import FinishedRun
from planners.models import BacklogItem, PhaseCheckpoint
from planners.pipeline.attempts import AttemptRecorder
from planners.pipeline.registry import PhaseInput, PhaseSpec
from planners.pipeline.transcripts import AttemptRecord

WORKER_ACTOR = "worker"

PhaseStatus = Literal["completed", "blocked", "failed", "cancelled", "skipped"]


@dataclass(frozen=True)
class PhaseResult:
    """How a phase ended. ``reason`` is for people (empty when it completed); ``retryable``
    tells the task whether running it again later can help without anyone changing anything."""

    status: PhaseStatus
    reason: str = ""
    retryable: bool = False
    execution_id: int | None = None
    transcript_ids: tuple[int, ...] = ()
    summary: dict[str, Any] = field(default_factory=dict)
    #: Seconds the provider asked us to wait before calling again (a 429's Retry-After).
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "completed"


@dataclass
class Claim:
    """The item and its checkpoint, held by ``owner`` until the phase is recorded."""

    item: BacklogItem
    spec: PhaseSpec
    checkpoint: PhaseCheckpoint
    owner: str


@dataclass
class PhaseRun:
    """What a run produced, nothing of it stored yet. ``status`` is provisional: a reply that
    cannot be materialised still fails the phase when it is recorded."""

    claim: Claim
    status: PhaseStatus
    correlation_id: str
    actor: str
    reason: str = ""
    retryable: bool = False
    finished: FinishedRun | None = None
    phase_input: PhaseInput | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    outcome: str = ""
    recorder: AttemptRecorder | None = None
    retry_after: float | None = None


def base_metadata(claimed: Claim, correlation_id: str) -> dict[str, Any]:
    """What every transcript row of the phase carries from the moment its attempt starts."""
    item, plan = claimed.item, claimed.item.plan
    return {
        "backlogItemId": item.backlog_id,
        "backlogItemPk": item.pk,
        "planId": plan.pk,
        "pipeline": plan.pipeline,
        "phase": item.phase,
        "branch": plan.branch,
        "phaseKey": claimed.checkpoint.phase_key,
        "planner": claimed.spec.planner,
        "correlationId": correlation_id,
    }
