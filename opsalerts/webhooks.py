"""Every outbound webhook POST goes through here.

One place decides the rules for talking to someone else's server: a timeout on every call,
redirects never followed (a redirect could move a signed payload to another host), http and
https only, and one exception type whose ``permanent`` flag tells the caller whether trying
again can help (network errors, 408, 429 and 5xx: yes; other 4xx, redirects, bad URLs: no).
"""

from __future__ import annotations

import http.cookiejar
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from standardwebhooks import Webhook

from cognition.http import is_retryable_status
from opsalerts.config_formats import is_http_url

logger = logging.getLogger(__name__)

USER_AGENT = "planner-ops-alerting/1"
_RESPONSE_EXCERPT = 500


class WebhookError(Exception):
    """A POST that did not succeed. ``permanent``: retrying will not help."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status_code: int | None = None,
        duration_ms: int = 0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status_code = status_code
        self.duration_ms = duration_ms


@dataclass(frozen=True)
class WebhookResponse:
    status_code: int
    duration_ms: int
    body_excerpt: str


def encode_payload(payload: dict[str, Any]) -> str:
    """The exact body that is signed and sent (compact, stable key order)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def signed_headers(
    *, secret: str, webhook_id: str, timestamp: datetime, body: str
) -> dict[str, str]:
    """Standard Webhooks headers. Without a secret (allowed in dev only) no signature is sent."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
    }
    if secret:
        headers["webhook-signature"] = Webhook(secret).sign(webhook_id, timestamp, body)
    return headers


class _Sessions(threading.local):
    """One keep-alive ``requests.Session`` per process and thread.

    Reusing the connection pool saves a TCP handshake per delivery to the same receiver.
    Per thread because ``requests.Session`` is not documented as thread-safe; per process
    because a Celery prefork child must not share sockets inherited from its parent.
    """

    session: requests.Session | None = None
    pid: int = 0

    def get(self) -> requests.Session:
        if self.session is None or self.pid != os.getpid():
            session = requests.Session()
            # A receiver's Set-Cookie must not ride along on later deliveries (a fresh
            # ``requests.post`` per call never sent one back either).
            session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            self.session, self.pid = session, os.getpid()
        return self.session


_sessions = _Sessions()


def post_webhook(
    url: str,
    *,
    body: str,
    headers: dict[str, str],
    timeout: float,
    explain: Callable[[str], str] | None = None,
) -> WebhookResponse:
    """POST ``body`` to ``url``; return on 2xx, raise ``WebhookError`` otherwise.

    ``explain`` turns an error response's body into the message recorded (a channel's API says
    what was wrong in its own JSON); by default the start of the body is recorded."""
    if not is_http_url(url):
        raise WebhookError(f"not an http(s) URL: {url!r}", permanent=True)
    started = time.monotonic()
    try:
        response = _sessions.get().post(
            url,
            data=body.encode(),
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.Timeout as exc:
        raise WebhookError(
            f"timed out after {timeout:g}s: {exc}", permanent=False, duration_ms=_since(started)
        ) from exc
    except requests.RequestException as exc:
        raise WebhookError(
            f"network error: {exc.__class__.__name__}: {exc}",
            permanent=False,
            duration_ms=_since(started),
        ) from exc
    duration_ms = _since(started)
    code = response.status_code
    excerpt = response.text[:_RESPONSE_EXCERPT]
    if 200 <= code < 300:
        return WebhookResponse(status_code=code, duration_ms=duration_ms, body_excerpt=excerpt)
    if 300 <= code < 400:
        location = response.headers.get("Location", "")
        raise WebhookError(
            f"HTTP {code} redirect to {location!r} not followed; configure the final URL",
            permanent=True,
            status_code=code,
            duration_ms=duration_ms,
        )
    detail = explain(response.text) if explain is not None else excerpt
    raise WebhookError(
        f"HTTP {code}: {detail[:_RESPONSE_EXCERPT]}".strip(),
        permanent=not is_retryable_status(code),
        status_code=code,
        duration_ms=duration_ms,
    )


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
