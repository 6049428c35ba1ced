"""The generic channel: the whole payload, signed with Standard Webhooks headers."""

from __future__ import annotations

from datetime import datetime

from opsalerts.config import OpsAlertingConfig
from opsalerts.outbox import ClaimedDelivery
from opsalerts.transports.base import OutboundRequest, Transport
from opsalerts.webhooks import encode_payload, signed_headers


class WebhookTransport(Transport):
    channel = "webhook"

    def request(
        self, delivery: ClaimedDelivery, *, config: OpsAlertingConfig, now: datetime
    ) -> OutboundRequest:
        body = encode_payload(delivery.payload)
        headers = signed_headers(
            secret=config.signing_secret, webhook_id=delivery.webhook_id, timestamp=now, body=body
        )
        return OutboundRequest(url=delivery.webhook_url, body=body, headers=headers)
