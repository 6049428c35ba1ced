"""Checking that an inbound webhook was sent by the service that claims to send it.

PagerDuty (v3 webhooks): ``X-PagerDuty-Signature`` holds comma-separated ``v1=<hex>`` entries,
each an HMAC-SHA256 of the raw body under one of the subscription's secrets (two during a
rotation); one match is enough.

Slack (request signing): ``X-Slack-Signature`` is ``v0=`` + hex HMAC-SHA256 of
``v0:<X-Slack-Request-Timestamp>:<raw body>`` under the app's signing secret, and a timestamp
more than five minutes from now is refused so a captured request cannot be replayed. Both are
a few lines of ``hmac``; a client library would add a dependency for them and nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SLACK_MAX_AGE_SECONDS = 300


def _hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def pagerduty_signature_is_valid(secret: str, body: bytes, header: str) -> bool:
    expected = f"v1={_hex_hmac(secret, body)}"
    entries = [entry.strip() for entry in header.split(",") if entry.strip()]
    return any(hmac.compare_digest(expected, entry) for entry in entries)


def slack_signature_is_valid(
    secret: str, body: bytes, *, timestamp: str, signature: str, now: float | None = None
) -> bool:
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - sent_at) > SLACK_MAX_AGE_SECONDS:
        return False
    expected = "v0=" + _hex_hmac(secret, b"v0:" + timestamp.encode() + b":" + body)
    return hmac.compare_digest(expected, signature)


def pagerduty_signature(secret: str, body: bytes) -> str:
    """The header PagerDuty would send (for the loopback fakes and drills)."""
    return f"v1={_hex_hmac(secret, body)}"


def slack_signature(secret: str, body: bytes, timestamp: str) -> str:
    return "v0=" + _hex_hmac(secret, b"v0:" + timestamp.encode() + b":" + body)
