"""The scripted agent: deterministic replies by phase, FIFO mode, and recorded calls."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from cognition.agents import get_agent_service
from cognition.agents.base import AgentError, ChatMessage
from cognition.agents.scripted import ScriptedAgent

VISION_PROMPT = [ChatMessage("system", "You plan fiction."), ChatMessage("user", "Plan it")]


def test_reply_is_chosen_by_phase() -> None:
    agent = ScriptedAgent({"vision": '{"authorSummary": "A"}', "critique": "Looks fine."})

    reply = agent.chat(VISION_PROMPT, phase="vision")

    assert reply.text == '{"authorSummary": "A"}'
    assert agent.chat(VISION_PROMPT, phase="critique").text == "Looks fine."
    assert (reply.provider, reply.model) == ("scripted", "scripted")
    assert reply.prompt_tokens > 0
    assert reply.completion_tokens > 0


def test_list_of_replies_is_consumed_in_order_and_the_last_repeats() -> None:
    agent = ScriptedAgent({"vision": ["not json", "{}"]})

    texts = [agent.chat(VISION_PROMPT, phase="vision").text for _ in range(3)]

    assert texts == ["not json", "{}", "{}"]


def test_fifo_mode_ignores_phase_and_fails_clearly_when_empty() -> None:
    agent = ScriptedAgent(fifo=["first", "second"])

    assert agent.chat(VISION_PROMPT, phase="vision").text == "first"
    assert agent.chat(VISION_PROMPT, phase="sceneWeaver").text == "second"
    with pytest.raises(AgentError, match="FIFO queue is empty") as excinfo:
        agent.chat(VISION_PROMPT, phase="critique")
    assert excinfo.value.permanent is True


def test_every_call_is_recorded_with_phase_and_messages() -> None:
    agent = ScriptedAgent({"vision": "ok"})

    agent.chat(VISION_PROMPT, phase="vision")

    assert agent.calls == [("vision", VISION_PROMPT)]


def test_unscripted_phase_is_a_permanent_error_naming_the_phase() -> None:
    agent = ScriptedAgent({"vision": "ok"})

    with pytest.raises(AgentError, match=r"'sceneWeaver'.*vision") as excinfo:
        agent.chat(VISION_PROMPT, phase="sceneWeaver")
    assert excinfo.value.permanent is True


def test_factory_builds_the_configured_backend(settings: Any) -> None:
    settings.AGENT_BACKEND = "openai"
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    settings.OPENAI_API_KEY = "sk-factory"

    agent = get_agent_service()

    assert agent.provider == "openai"
    assert "sk-factory" not in repr(agent)


def test_factory_refuses_an_unknown_backend_naming_it() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"'anthropic'.*scripted, openai"):
        get_agent_service("anthropic")


def test_default_replies_cover_every_fiction_phase_and_critique() -> None:
    agent = ScriptedAgent()

    for phase in ("vision", "iterative", "chapterArchitect", "scrollRefiner", "sceneWeaver"):
        assert agent.chat(VISION_PROMPT, phase=phase).text.strip()
    assert [phase for phase, _ in agent.calls] == [
        "vision",
        "iterative",
        "chapterArchitect",
        "scrollRefiner",
        "sceneWeaver",
    ]


def test_factory_default_backend_is_the_scripted_demo(settings: Any) -> None:
    settings.AGENT_BACKEND = "scripted"

    agent = get_agent_service()

    assert isinstance(agent, ScriptedAgent)
    assert agent.chat(VISION_PROMPT, phase="vision").text.strip()
