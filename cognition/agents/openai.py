"""The ``openai`` agent backend: any OpenAI-compatible ``POST /chat/completions`` endpoint.

Works with OpenAI, Ollama, vLLM and friends. Every call has a timeout. A call is made once, or
twice when the connection dropped before any answer came back; every other retry belongs to the
phase task (Celery's retry with backoff, ``Retry-After`` respected), so no worker slot sleeps.
Failures that may pass on their own (network errors, timeouts, and the statuses
``cognition.http.is_retryable_status`` accepts: 408, 429, 5xx) are transient ``AgentError``s
carrying the server's ``Retry-After``; everything else is permanent, so the pipeline stops
instead of burning retries.
The API key is sent in a header and scrubbed from every log line and error message, because
upstream error bodies and exception texts sometimes echo request details back.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from cognition.agents.base import AgentError, AgentReply, ChatMessage, RetryListener
from cognition.http import is_retryable_status

logger = logging.getLogger(__name__)

# Upstream error text quoted in our messages is cut to this length.
ERROR_SNIPPET_CHARS = 300
REDACTED = "[redacted]"


class OpenAIChatAgent:
    """Chat completions over ``requests`` with a timeout, one quick retry of a dropped
    connection and no redirects."""

    provider = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        timeout: float,
    ) -> None:
        scheme = urlsplit(base_url).scheme
        if scheme not in ("http", "https"):
            raise AgentError(
                f"OPENAI_BASE_URL must be an http(s) URL, got scheme {scheme!r}", permanent=True
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = timeout
        self._api_key = api_key
        self._session = requests.Session()

    @classmethod
    def from_settings(cls) -> OpenAIChatAgent:
        return cls(
            base_url=settings.OPENAI_BASE_URL,
            api_key=settings.OPENAI_API_KEY,
            model=settings.AGENT_MODEL,
            timeout=settings.AGENT_TIMEOUT_SECONDS,
        )

    def __repr__(self) -> str:
        # Never include the key, even in debugger or log output of the object itself.
        return f"OpenAIChatAgent(base_url={self.base_url!r}, model={self.model!r})"

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/chat/completions"

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        phase: str = "",
        on_retry: RetryListener | None = None,
    ) -> AgentReply:
        """Send ``messages``; return the first choice's text with token usage and latency.
        A connection dropped before any answer is tried once more at once (``on_retry`` hears
        of the first try); anything else is not retried here.

        Raises ``AgentError``: transient (``permanent=False``, with the server's Retry-After)
        for network errors, timeouts, 429 and 5xx; permanent for anything retrying cannot fix.
        """
        payload = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
        }
        try:
            try:
                return self._attempt(payload)
            except _Dropped as dropped:
                logger.warning(
                    "agent call dropped (phase=%s): %s; trying once more",
                    phase or "-",
                    self._redact(dropped.message),
                )
                if on_retry is not None:
                    on_retry(self._transient(dropped))
                return self._attempt(payload)
        except _Transient as failure:
            raise self._transient(failure) from None

    def _transient(self, failure: _Transient) -> AgentError:
        return AgentError(
            self._redact(failure.message),
            permanent=False,
            status_code=failure.status_code,
            retry_after=failure.retry_after,
        )

    def _attempt(self, payload: dict[str, Any]) -> AgentReply:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        started = time.monotonic()
        try:
            response = self._session.post(
                self.endpoint,
                json=payload,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise _Transient(f"no response within {self.timeout:g}s from {self._host}") from None
        except requests.ConnectionError as exc:
            raise _Dropped(f"network error talking to {self._host}: {type(exc).__name__}") from None
        except requests.RequestException as exc:
            raise _Transient(
                f"network error talking to {self._host}: {type(exc).__name__}"
            ) from None
        latency_ms = int((time.monotonic() - started) * 1000)
        status = response.status_code
        if is_retryable_status(status):
            raise _Transient(
                f"HTTP {status} from {self._host}{self._detail(response)}",
                status_code=status,
                retry_after=_retry_after(response),
            )
        if 300 <= status < 400:
            raise self._error(
                f"HTTP {status} redirect from {self._host} not followed; "
                "check OPENAI_BASE_URL points at the API itself",
                permanent=True,
                status_code=status,
            )
        if status >= 400:
            raise self._error(
                f"HTTP {status} from {self._host}{self._detail(response)}",
                permanent=True,
                status_code=status,
            )
        return self._parse(response, latency_ms)

    def _parse(self, response: requests.Response, latency_ms: int) -> AgentReply:
        try:
            body = response.json()
        except (ValueError, json.JSONDecodeError):
            raise self._error(
                f"malformed response from {self._host}: body is not JSON "
                f"({_snippet(response.text)!r})",
                permanent=True,
                status_code=response.status_code,
            ) from None
        text = _first_choice_text(body)
        if text is None:
            raise self._error(
                f"malformed response from {self._host}: expected choices[0].message.content "
                "to be a string",
                permanent=True,
                status_code=response.status_code,
            )
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        model = body.get("model") if isinstance(body.get("model"), str) else self.model
        return AgentReply(
            text=text,
            prompt_tokens=_int(usage.get("prompt_tokens")),
            completion_tokens=_int(usage.get("completion_tokens")),
            latency_ms=latency_ms,
            provider=self.provider,
            model=model or self.model,
        )

    @property
    def _host(self) -> str:
        parts = urlsplit(self.base_url)
        return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else "?"

    def _detail(self, response: requests.Response) -> str:
        message = ""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, dict) and isinstance(error.get("message"), str):
                message = error["message"]
            elif isinstance(error, str):
                message = error
        if not message:
            message = response.text
        message = _snippet(message)
        return f": {message}" if message else ""

    def _redact(self, text: str) -> str:
        if self._api_key and self._api_key in text:
            text = text.replace(self._api_key, REDACTED)
        return text

    def _error(self, message: str, *, permanent: bool, status_code: int | None) -> AgentError:
        return AgentError(self._redact(message), permanent=permanent, status_code=status_code)


class _Transient(Exception):
    """A failure worth another attempt (network, timeout, 408, 429, 5xx); internal here."""

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after


class _Dropped(_Transient):
    """The connection failed before any answer: the one failure tried again at once."""


def _first_choice_text(body: object) -> str | None:
    if not isinstance(body, dict):
        return None
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    if not isinstance(message, dict):
        return None
    content = message.get("content")
    return content if isinstance(content, str) else None


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After in seconds (the delta-seconds form; an HTTP date is ignored)."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > ERROR_SNIPPET_CHARS:
        return text[:ERROR_SNIPPET_CHARS] + "…"
    return text
