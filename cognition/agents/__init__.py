"""The agent (LLM chat) service: pick a backend by name.

Callers depend on ``AgentService`` (``cognition.agents.base``) and get an instance here, so the
backend is a deployment setting (``AGENT_BACKEND``), not a code change.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from cognition.agents.base import AgentError, AgentReply, AgentService, ChatMessage
from cognition.agents.openai import OpenAIChatAgent
from cognition.agents.scripted import ScriptedAgent

__all__ = [
    "BACKENDS",
    "AgentError",
    "AgentReply",
    "AgentService",
    "ChatMessage",
    "get_agent_service",
]

BACKENDS = ("scripted", "openai")


def get_agent_service(backend: str | None = None) -> AgentService:
    """A fresh agent for ``backend`` (default ``settings.AGENT_BACKEND``).

    Raises ``ImproperlyConfigured`` naming the backend and the known ones for an unknown name.
    """
    name = backend or settings.AGENT_BACKEND
    if name == "scripted":
        return ScriptedAgent()
    if name == "openai":
        return OpenAIChatAgent.from_settings()
    raise ImproperlyConfigured(
        f"Unknown agent backend {name!r}; known backends: {', '.join(BACKENDS)}."
    )
