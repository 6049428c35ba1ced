"""The agent service interface: chat messages in; text, token usage and latency out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system", "user" or "assistant"
    content: str


@dataclass(frozen=True)
class AgentReply:
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    provider: str
    model: str


class AgentError(Exception):
    """A failed agent call. ``permanent`` is false for errors worth retrying later
    (network errors, 408, 429, 5xx) and true for the rest (400, bad credentials, malformed body).
    ``retry_after``: the seconds the provider asked callers to wait (a 429's Retry-After)."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code
        self.retry_after = retry_after


#: Told of each failed attempt of a call that the backend is about to try again (a 429, a
#: 5xx, a network error), so the caller can record it before the next attempt starts.
RetryListener = Callable[[AgentError], None]


class AgentService(Protocol):
    provider: str
    model: str

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        phase: str = "",
        on_retry: RetryListener | None = None,
    ) -> AgentReply:
        """Send the conversation; ``phase`` tells scripted backends which reply to give;
        ``on_retry`` hears of each failed attempt the backend retries itself."""
        ...
