"""Each agent attempt of a phase, recorded when it starts and given its outcome when it ends.

The engine hands the planner an ``AttemptRecorder`` in place of the agent. Every call the planner
makes inserts a ``running`` transcript row first (committed on its own, before the model is
asked), so a worker that dies mid-call leaves the row behind; the next claim of the item marks
it ``interrupted``. A backend that retries a call itself (429, 5xx, network) reports each failed
try through ``on_retry``: that row ends ``error`` and the next try gets a row of its own. The
phase's record step then completes the rows with what the planner made of each reply.

While the model thinks, the phase holds no database connection: a threads pool with 64 calls
in flight would otherwise hold 64 idle connections (PostgreSQL allows 100 by default). The next
statement takes one again (on PostgreSQL from the process's pool, already open).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection

from cognition.agents.base import AgentError, AgentReply, AgentService, ChatMessage
from planners.models import BacklogItem, PhaseTranscript

Outcome = PhaseTranscript.Outcome


@dataclass
class RecordedCall:
    """The rows of one call the planner made: the last is the try whose reply it got."""

    rows: list[PhaseTranscript] = field(default_factory=list)


class AttemptRecorder:
    """An agent that records each attempt of the agent it wraps (see the module docstring)."""

    def __init__(self, agent: AgentService, item: BacklogItem, metadata: dict[str, Any]) -> None:
        self.agent = agent
        self.provider = agent.provider
        self.model = agent.model
        self.item = item
        self.metadata = metadata
        self.calls: list[RecordedCall] = []
        self._number: int | None = None
        self._hears_retries = "on_retry" in inspect.signature(agent.chat).parameters

    def chat(
        self, messages: Sequence[ChatMessage], *, phase: str = "", on_retry: Any = None
    ) -> AgentReply:
        call = RecordedCall()
        self.calls.append(call)
        self._start(call, messages, phase)

        def retried(error: AgentError) -> None:
            self._end(call.rows[-1], Outcome.ERROR, error=str(error), status=error.status_code)
            self._start(call, messages, phase)

        _release_connection()
        try:
            if self._hears_retries:
                reply = self.agent.chat(messages, phase=phase, on_retry=retried)
            else:
                reply = self.agent.chat(messages, phase=phase)
        except AgentError as exc:
            self._end(call.rows[-1], Outcome.ERROR, error=str(exc), status=exc.status_code)
            raise
        except SoftTimeLimitExceeded:
            self._end(call.rows[-1], Outcome.INTERRUPTED, error="the phase ran out of time")
            raise
        except Exception as exc:
            self._end(call.rows[-1], Outcome.ERROR, error=f"{type(exc).__name__}: {exc}")
            raise
        row = call.rows[-1]
        row.response = reply.text
        row.prompt_tokens = reply.prompt_tokens
        row.completion_tokens = reply.completion_tokens
        row.latency_ms = reply.latency_ms
        return reply

    def _start(self, call: RecordedCall, messages: Sequence[ChatMessage], phase: str) -> None:
        if self._number is None:
            self._number = PhaseTranscript.objects.filter(backlog_item_id=self.item.pk).count()
        self._number += 1
        call.rows.append(
            PhaseTranscript.objects.create(
                plan_id=self.item.plan_id,
                phase=self.item.phase,
                backlog_item=self.item,
                attempt=self._number,
                is_retry=self._number > 1,
                request=[{"role": m.role, "content": m.content} for m in messages],
                outcome=Outcome.RUNNING,
                metadata={**self.metadata, "agentPhase": phase},
            )
        )

    def _end(
        self, row: PhaseTranscript, outcome: str, *, error: str, status: int | None = None
    ) -> None:
        row.outcome = outcome
        row.metadata = {**row.metadata, "error": error}
        if status is not None:
            row.metadata["statusCode"] = status  # tells a rate limit from a server error
        PhaseTranscript.objects.filter(pk=row.pk).update(outcome=outcome, metadata=row.metadata)

    @property
    def rows(self) -> list[PhaseTranscript]:
        return [row for call in self.calls for row in call.rows]


def _release_connection() -> None:
    """Close this thread's connection unless a transaction holds it (an in-process run inside
    a caller's transaction, as in tests, keeps it)."""
    if not connection.in_atomic_block:
        connection.close()


def interrupt_running_attempts(item: BacklogItem) -> int:
    """Mark the item's attempts still ``running`` as ``interrupted``: called when the item is
    claimed again, so they belong to a worker that died (or a phase that was never recorded)."""
    return PhaseTranscript.objects.filter(backlog_item=item, outcome=Outcome.RUNNING).update(
        outcome=Outcome.INTERRUPTED
    )
