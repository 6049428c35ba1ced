"""The formats of single Ops alerting values: URLs, the secrets the channels issue, and how each
is shown to people (masked).

Kept apart from the settings block (``opsalerts.config``) and the routes (``opsalerts.routes``),
which both judge values with these rules.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from urllib.parse import urlsplit

SECRET_PREFIX = "whsec_"
SECRET_MIN_BYTES = 24
#: PagerDuty generates each v3 webhook subscription's secret: a long random string of base64
#: characters. Anything shorter than this was not issued by PagerDuty (or was cut when pasted).
PAGERDUTY_SECRET_MIN_CHARS = 32
_PAGERDUTY_SECRET = re.compile(r"[A-Za-z0-9+/=_-]+")
#: Slack shows an app's signing secret as 32 lowercase hexadecimal characters.
_SLACK_SECRET = re.compile(r"[0-9a-f]{32}")


def is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def is_signing_secret(secret: str) -> bool:
    """``whsec_`` + strict base64 that decodes to at least ``SECRET_MIN_BYTES`` bytes."""
    if not secret.startswith(SECRET_PREFIX):
        return False
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error:
        return False
    return len(key) >= SECRET_MIN_BYTES


def is_pagerduty_webhook_secret(secret: str) -> bool:
    return len(secret) >= PAGERDUTY_SECRET_MIN_CHARS and bool(_PAGERDUTY_SECRET.fullmatch(secret))


def is_slack_signing_secret(secret: str) -> bool:
    return bool(_SLACK_SECRET.fullmatch(secret))


def mask_url(url: str) -> str:
    """A webhook URL for printing: chat webhooks carry their secret in the path or query
    (``/services/T0/B0/XXXX``), so only the host, the first path segment and the last four
    characters are shown; a password in the URL is never shown."""
    if not url:
        return "(none)"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if parts.username:
        host = f"{parts.username}:****@{host}" if parts.password else f"{parts.username}@{host}"
    segments = [s for s in parts.path.split("/") if s]
    path = "/" + "/".join(segments[:1])
    rest = "/".join(segments[1:]) + (f"?{parts.query}" if parts.query else "")
    if rest:
        path += f"/…{rest[-4:]}" if len(rest) > 4 else "/…"
    return f"{parts.scheme}://{host}{path}"


def mask_secret(secret: str) -> str:
    if not secret:
        return "(not set)"
    return f"{secret[:6]}…({len(secret)} chars)" if secret.startswith("whsec_") else "****"


def mask_key(key: str) -> str:
    """A PagerDuty integration key is a credential: show its last four characters only."""
    return f"…{key[-4:]}" if key else "(none)"


def shown_routing_key(channel: str, key: str) -> str:
    """A PagerDuty routing key is the integration's credential; other keys are team names."""
    return mask_key(key) if channel == "pagerduty" else key or "(none)"


#: Secrets in the form their issuer gives them: the check, and what a bad value is told.
SECRETS: dict[str, tuple[Callable[[str], bool], str]] = {
    "signing_secret": (
        is_signing_secret,
        f"not a Standard Webhooks secret (expected {SECRET_PREFIX} followed by base64 of at "
        f"least {SECRET_MIN_BYTES} random bytes).",
    ),
    "pagerduty_webhook_secret": (
        is_pagerduty_webhook_secret,
        "not a PagerDuty webhook secret (expected the subscription's secret as PagerDuty shows "
        f"it: at least {PAGERDUTY_SECRET_MIN_CHARS} letters, digits, +, / or =).",
    ),
    "slack_signing_secret": (
        is_slack_signing_secret,
        "not a Slack signing secret (expected the app's Signing Secret from Basic Information: "
        "32 lowercase hexadecimal characters).",
    ),
}
