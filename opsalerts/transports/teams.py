"""Microsoft Teams through a Workflows webhook ("Post to a channel when a webhook request is
received"): a message with one Adaptive Card, its facts and an ``Action.OpenUrl`` to the ack
link. Workflows answers 202 once it has queued the run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opsalerts.config import OpsAlertingConfig
from opsalerts.outbox import ClaimedDelivery
from opsalerts.transports.base import Notice, OutboundRequest, Transport, json_request

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
COLOR = {"error": "Attention", "warning": "Warning", "info": "Accent"}


class TeamsTransport(Transport):
    channel = "teams"

    def request(
        self, delivery: ClaimedDelivery, *, config: OpsAlertingConfig, now: datetime
    ) -> OutboundRequest:
        notice = Notice.of(delivery)
        return json_request(delivery.webhook_url, message(adaptive_card(notice)))


def message(card: dict[str, Any]) -> dict[str, Any]:
    attachment = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": card,
    }
    return {"type": "message", "attachments": [attachment]}


def adaptive_card(notice: Notice) -> dict[str, Any]:
    if notice.firing:
        heading = f"{notice.severity.upper()}: {notice.title}"
    elif notice.kind == "acknowledged":
        who = notice.acknowledged_by or "someone"
        heading = f"Acknowledged by {who} via {notice.acknowledged_via}: {notice.title}"
    else:
        heading = f"Resolved: {notice.title}"
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": heading,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": COLOR.get(notice.severity, "Default") if notice.firing else "Good",
        }
    ]
    description = str(notice.alert.get("description") or "")
    if notice.firing and description:
        body.append({"type": "TextBlock", "text": description, "wrap": True})
    facts = [*notice.facts(), ("Dedup key", str(notice.alert.get("dedup_key", "")))]
    body.append({"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in facts]})
    card: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
    }
    if notice.firing and notice.ack_url:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Acknowledge", "url": notice.ack_url}
        ]
    return card
