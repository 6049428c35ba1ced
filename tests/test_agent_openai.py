"""The ``openai`` backend against a real HTTP server on 127.0.0.1 speaking the chat protocol."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from cognition.agents.base import AgentError, ChatMessage
from cognition.agents.openai import OpenAIChatAgent
from tests.chat_server import Canned, ChatServer, chat_server, completion

__all__ = ["chat_server"]

API_KEY = "sk-test-9f8e7d6c5b4a"
MESSAGES = [ChatMessage("system", "You plan fiction."), ChatMessage("user", "Plan 'Tidewater'")]


def make_agent(server: ChatServer, *, timeout: float = 5.0) -> OpenAIChatAgent:
    return OpenAIChatAgent(
        base_url=server.base_url, api_key=API_KEY, model="gpt-4o-mini", timeout=timeout
    )


def test_successful_completion_returns_text_usage_and_latency(chat_server: ChatServer) -> None:
    chat_server.respond(completion('{"authorSummary": "A tide story"}'))
    agent = make_agent(chat_server)

    reply = agent.chat(MESSAGES, phase="vision")

    assert reply.text == '{"authorSummary": "A tide story"}'
    assert (reply.prompt_tokens, reply.completion_tokens) == (42, 7)
    assert reply.latency_ms >= 0
    assert (reply.provider, reply.model) == ("openai", "gpt-4o-mini-2024")
    [request] = chat_server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert request["json"] == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You plan fiction."},
            {"role": "user", "content": "Plan 'Tidewater'"},
        ],
    }


def test_latency_measures_the_round_trip(chat_server: ChatServer) -> None:
    slow = completion("ok")
    slow.delay = 0.15
    chat_server.respond(slow)
    agent = make_agent(chat_server)

    assert agent.chat(MESSAGES).latency_ms >= 150


def test_rate_limit_is_transient_and_carries_retry_after_for_the_task(
    chat_server: ChatServer,
) -> None:
    chat_server.respond(
        Canned(429, {"error": {"message": "Rate limit reached"}}, headers={"Retry-After": "2"}),
        completion("after the wait"),
    )
    agent = make_agent(chat_server)

    started = time.monotonic()
    with pytest.raises(AgentError, match=r"HTTP 429.*Rate limit reached") as excinfo:
        agent.chat(MESSAGES, phase="vision")

    error = excinfo.value
    assert (error.permanent, error.status_code, error.retry_after) == (False, 429, 2.0)
    # One call: the phase task waits (Retry-After) and retries; no worker slot sleeps here.
    assert len(chat_server.requests) == 1
    assert time.monotonic() - started < 1.0


def test_server_error_is_transient_and_not_retried_in_the_client(
    chat_server: ChatServer,
) -> None:
    chat_server.respond(Canned(500, {"error": {"message": "upstream overloaded"}}))
    agent = make_agent(chat_server)

    with pytest.raises(AgentError) as excinfo:
        agent.chat(MESSAGES)

    error = excinfo.value
    assert (error.permanent, error.status_code, error.retry_after) == (False, 500, None)
    assert "HTTP 500" in str(error)
    assert "upstream overloaded" in str(error)
    assert len(chat_server.requests) == 1


def test_request_timeout_status_is_transient_like_a_webhooks(chat_server: ChatServer) -> None:
    chat_server.respond(Canned(408, "Request Timeout"), completion("recovered"))
    agent = make_agent(chat_server)

    with pytest.raises(AgentError) as excinfo:
        agent.chat(MESSAGES)

    assert (excinfo.value.permanent, excinfo.value.status_code) == (False, 408)
    assert len(chat_server.requests) == 1


def test_bad_request_is_permanent_and_not_retried(chat_server: ChatServer) -> None:
    chat_server.respond(Canned(400, {"error": {"message": "model 'gpt-9' does not exist"}}))
    agent = make_agent(chat_server)

    with pytest.raises(AgentError, match=r"HTTP 400.*model 'gpt-9' does not exist") as excinfo:
        agent.chat(MESSAGES)

    assert (excinfo.value.permanent, excinfo.value.status_code) == (True, 400)
    assert len(chat_server.requests) == 1


def test_timeout_is_reported_as_transient_without_a_second_try(chat_server: ChatServer) -> None:
    chat_server.respond(Canned(200, completion("too late").body, delay=1.0))
    agent = make_agent(chat_server, timeout=0.2)

    started = time.monotonic()
    with pytest.raises(AgentError, match=r"no response within 0.2s") as excinfo:
        agent.chat(MESSAGES)

    assert excinfo.value.permanent is False
    # The server may have the request in hand: a timed-out call is the task's to retry.
    assert len(chat_server.requests) == 1
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("<html>Bad Gateway page</html>", "body is not JSON"),
        ({"choices": []}, "choices[0].message.content"),
        ({"choices": [{"message": {"role": "assistant", "content": None}}]}, "content"),
    ],
)
def test_malformed_body_is_a_permanent_error_saying_what_is_wrong(
    chat_server: ChatServer, body: str | dict[str, Any], problem: str
) -> None:
    chat_server.respond(Canned(200, body))
    agent = make_agent(chat_server)

    with pytest.raises(AgentError, match="malformed response") as excinfo:
        agent.chat(MESSAGES)

    assert problem in str(excinfo.value)
    assert excinfo.value.permanent is True
    assert len(chat_server.requests) == 1


def test_missing_usage_counts_as_zero_tokens(chat_server: ChatServer) -> None:
    canned = completion("fine")
    assert isinstance(canned.body, dict)
    del canned.body["usage"]
    chat_server.respond(canned)
    agent = make_agent(chat_server)

    reply = agent.chat(MESSAGES)

    assert (reply.prompt_tokens, reply.completion_tokens) == (0, 0)


def test_redirect_is_not_followed(chat_server: ChatServer) -> None:
    chat_server.respond(Canned(302, "", headers={"Location": "http://127.0.0.1:9/elsewhere"}))
    agent = make_agent(chat_server)

    with pytest.raises(AgentError, match=r"redirect.*not followed") as excinfo:
        agent.chat(MESSAGES)

    assert excinfo.value.permanent is True
    assert len(chat_server.requests) == 1


def test_a_dropped_connection_is_tried_once_more_then_is_transient() -> None:
    agent = OpenAIChatAgent(
        base_url="http://127.0.0.1:9/v1",  # discard port: connection refused
        api_key=API_KEY,
        model="gpt-4o-mini",
        timeout=1.0,
    )
    heard: list[AgentError] = []

    with pytest.raises(AgentError, match=r"network error talking to 127.0.0.1:9") as excinfo:
        agent.chat(MESSAGES, on_retry=heard.append)

    assert excinfo.value.permanent is False
    assert len(heard) == 1  # the first try, reported before the second


def test_api_key_never_appears_in_errors_or_logs(
    chat_server: ChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    echo = {"error": {"message": f"invalid header Authorization: Bearer {API_KEY}"}}
    chat_server.respond(Canned(401, echo))
    agent = make_agent(chat_server)

    with caplog.at_level(logging.DEBUG), pytest.raises(AgentError) as excinfo:
        agent.chat(MESSAGES)

    assert excinfo.value.status_code == 401
    assert "[redacted]" in str(excinfo.value)
    assert API_KEY not in str(excinfo.value)
    assert API_KEY not in repr(excinfo.value)
    assert API_KEY not in repr(agent)
    assert API_KEY not in caplog.text


def test_non_http_base_url_is_refused() -> None:
    with pytest.raises(AgentError, match=r"http\(s\) URL"):
        OpenAIChatAgent(base_url="file:///etc", api_key="", model="m", timeout=1.0)


def test_agent_from_settings_uses_configured_endpoint_and_timeouts(
    chat_server: ChatServer, settings: Any
) -> None:
    settings.OPENAI_BASE_URL = chat_server.base_url
    settings.OPENAI_API_KEY = ""
    settings.AGENT_MODEL = "llama3"
    settings.AGENT_TIMEOUT_SECONDS = 2.5
    chat_server.respond(completion("local model"))

    agent = OpenAIChatAgent.from_settings()
    reply = agent.chat(MESSAGES)

    assert agent.timeout == 2.5
    assert reply.text == "local model"
    assert "Authorization" not in chat_server.requests[0]["headers"]
    assert chat_server.requests[0]["json"]["model"] == "llama3"
