"""One transport per channel, behind one interface (``opsalerts.transports.base.Transport``):
the request for a firing, repeat, acknowledged or resolved notification, and what the answer
means (sent; retry on network errors, 408, 429 and 5xx; dead otherwise, with the reason)."""

from __future__ import annotations

from opsalerts.transports.alertmanager import AlertmanagerTransport
from opsalerts.transports.base import Transport
from opsalerts.transports.pagerduty import PagerDutyTransport
from opsalerts.transports.slack import SlackTransport
from opsalerts.transports.teams import TeamsTransport
from opsalerts.transports.webhook import WebhookTransport

TRANSPORTS: dict[str, Transport] = {
    transport.channel: transport
    for transport in (
        WebhookTransport(),
        PagerDutyTransport(),
        SlackTransport(),
        TeamsTransport(),
        AlertmanagerTransport(),
    )
}


def transport_for(channel: str) -> Transport:
    """The channel's transport; a row from before channels existed is a webhook."""
    return TRANSPORTS.get(channel) or TRANSPORTS["webhook"]
