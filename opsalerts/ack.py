"""Acknowledgement links: absolute, signed, expiring, no login needed.

The token is ``django.core.signing`` (HMAC with SECRET_KEY, a dedicated salt, a timestamp), so a
link cannot be forged or pointed at another alert, and it stops working after
``OPS_ALERTING_ACK_TTL_SECONDS``. It carries the alert's episode start (``first_seen``) so a link
from an earlier, resolved occurrence cannot acknowledge a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

from opsalerts.config import load_ops_alerting_config
from opsalerts.models import Alert

ACK_SALT = "opsalerts.ack-link"


class AckLinkError(Exception):
    """The link is unusable. ``reason``: ``expired``, ``invalid`` or ``unknown-alert``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class AckLink:
    alert: Alert
    stale_episode: bool  # the alert has fired again since the link was made


def ack_token_for(alert: Alert) -> str:
    return signing.dumps(
        {"alert": alert.pk, "since": int(alert.first_seen.timestamp())},
        salt=ACK_SALT,
        compress=True,
    )


def ack_url_for(alert: Alert) -> str:
    """The absolute link a receiver follows to acknowledge ``alert``."""
    path = reverse("opsalerts:ack-link", args=[ack_token_for(alert)])
    return f"{str(settings.PUBLIC_BASE_URL).rstrip('/')}{path}"


def read_ack_token(token: str) -> AckLink:
    """The alert the token names; raises ``AckLinkError`` for tampered or expired tokens."""
    try:
        max_age = load_ops_alerting_config().ack_ttl_seconds
        data = signing.loads(token, salt=ACK_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise AckLinkError(
            "expired",
            "This acknowledgement link has expired. Acknowledge the alert in the admin, "
            "or wait for the next notification, which carries a fresh link.",
        ) from None
    except signing.BadSignature:
        raise AckLinkError(
            "invalid",
            "This acknowledgement link is not valid: it was altered or cut short. "
            "Copy the whole link from the notification.",
        ) from None
    alert_pk = data.get("alert") if isinstance(data, dict) else None
    alert = Alert.objects.filter(pk=alert_pk).first() if isinstance(alert_pk, int) else None
    if alert is None:
        raise AckLinkError("unknown-alert", "The alert this link points to no longer exists.")
    stale = int(alert.first_seen.timestamp()) != data.get("since")
    return AckLink(alert=alert, stale_episode=stale)
