"""A deterministic agent for the demo and the tests: canned replies keyed by phase.

It lets the whole five-phase pipeline run offline with no model, and lets a test script exactly
what "the model" says (including bad replies, to exercise repair and blocking paths).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from django.conf import settings

from cognition.agents.base import AgentError, AgentReply, ChatMessage, RetryListener

#: The replies a ``ScriptedAgent()`` serves by default, by phase: each planner family registers
#: the canned replies that make one valid run of its phases (``register_scripted_replies``).
_registered_replies: dict[str, str | list[str]] = {}


def register_scripted_replies(replies: Mapping[str, str | list[str]]) -> None:
    """Add a family's default scripted replies (phase → reply); a later family's reply for the
    same phase wins (a re-import re-registers the same text)."""
    _registered_replies.update(replies)


def registered_scripted_replies() -> dict[str, str | list[str]]:
    return dict(_registered_replies)


def _estimate_tokens(text: str) -> int:
    """A rough, stable token count (about four characters a token) so metrics are not zero."""
    return max(1, len(text) // 4) if text else 0


class ScriptedAgent:
    """Replies from a script instead of a model.

    ``replies`` maps a phase (``vision``, ``iterative``, ``chapterArchitect``, ``scrollRefiner``,
    ``sceneWeaver``, ``critique``) to a reply or a list of replies consumed in order, the last one
    repeating. ``fifo`` instead returns queued replies in order whatever the phase. Every call is
    recorded in ``calls`` as ``(phase, messages)``.
    """

    provider = "scripted"
    model = "scripted"

    def __init__(
        self,
        replies: Mapping[str, str | list[str]] | None = None,
        fifo: list[str] | None = None,
    ) -> None:
        self._fifo: list[str] | None = list(fifo) if fifo is not None else None
        if self._fifo is None and replies is None:
            replies = registered_scripted_replies()
        self._replies: dict[str, str | list[str]] = {
            phase: list(value) if isinstance(value, list) else value
            for phase, value in (replies or {}).items()
        }
        self._served: dict[str, int] = {}
        self.calls: list[tuple[str, list[ChatMessage]]] = []

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        phase: str = "",
        on_retry: RetryListener | None = None,
    ) -> AgentReply:
        started = time.monotonic()
        self.calls.append((phase, list(messages)))
        text = self._next_reply(phase)
        delay = float(getattr(settings, "SCRIPTED_AGENT_DELAY_SECONDS", 0.0))
        if delay:
            time.sleep(delay)  # a "slow model", to watch a phase run or kill a worker mid-phase
        prompt_text = "".join(m.content for m in messages)
        return AgentReply(
            text=text,
            prompt_tokens=_estimate_tokens(prompt_text),
            completion_tokens=_estimate_tokens(text),
            latency_ms=int((time.monotonic() - started) * 1000),
            provider=self.provider,
            model=self.model,
        )

    def _next_reply(self, phase: str) -> str:
        if self._fifo is not None:
            if not self._fifo:
                raise AgentError(
                    f"scripted agent: FIFO queue is empty "
                    f"(call {len(self.calls)}, phase {phase!r})",
                    permanent=True,
                )
            return self._fifo.pop(0)
        if phase not in self._replies:
            known = ", ".join(sorted(self._replies)) or "none"
            raise AgentError(
                f"scripted agent has no reply for phase {phase!r} (scripted phases: {known})",
                permanent=True,
            )
        value = self._replies[phase]
        if isinstance(value, str):
            return value
        if not value:
            raise AgentError(
                f"scripted agent has an empty reply list for phase {phase!r}", permanent=True
            )
        index = self._served.get(phase, 0)
        self._served[phase] = index + 1
        return value[min(index, len(value) - 1)]
