"""Slack incoming webhooks with Block Kit.

A firing alert is a header (severity and title), fields (planner, plan, environment, SLO), the
description, an **Acknowledge** button and a context line with the dedup key, plus a plain
``text`` for notifications and clients that show no blocks. The button opens the signed ack
link; where the Slack app's interactivity points at ``/integrations/slack/actions`` (and
``SLACK_SIGNING_SECRET`` is set), the click also acknowledges without leaving Slack: its
``value`` is the ack link's token. Acknowledged and resolved notices are follow-up messages.
Slack answers 200 ``ok``, or a 4xx whose body names the problem (``invalid_blocks``,
``no_text``, ``channel_not_found``); 429 and 5xx are tried again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opsalerts.config import OpsAlertingConfig
from opsalerts.outbox import ClaimedDelivery
from opsalerts.transports.base import Notice, OutboundRequest, Transport, json_request

ACK_ACTION_ID = "opsalerts-acknowledge"
HEADER_MAX = 150
SECTION_MAX = 3000
EMOJI = {"error": ":rotating_light:", "warning": ":warning:", "info": ":information_source:"}


class SlackTransport(Transport):
    channel = "slack"

    def request(
        self, delivery: ClaimedDelivery, *, config: OpsAlertingConfig, now: datetime
    ) -> OutboundRequest:
        notice = Notice.of(delivery)
        message = firing_message(notice) if notice.firing else follow_up_message(notice)
        return json_request(delivery.webhook_url, message)


def ack_token(ack_url: str) -> str:
    """The signed token at the end of an ack link (``/alerts/ack/<token>/``)."""
    return ack_url.rstrip("/").rsplit("/", 1)[-1] if ack_url else ""


def firing_message(notice: Notice) -> dict[str, Any]:
    severity = notice.severity.upper()
    heading = f"{EMOJI.get(notice.severity, '')} {severity}: {notice.title}".strip()
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": heading[:HEADER_MAX]}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in notice.facts()
            ],
        },
    ]
    description = str(notice.alert.get("description") or "")
    if description:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": description[:SECTION_MAX]}}
        )
    if notice.ack_url:
        button = {
            "type": "button",
            "action_id": ACK_ACTION_ID,
            "text": {"type": "plain_text", "text": "Acknowledge"},
            "style": "primary",
            "url": notice.ack_url,
            "value": ack_token(notice.ack_url),
        }
        blocks.append({"type": "actions", "elements": [button]})
    blocks.append(_context(notice))
    repeat = " (still firing)" if notice.kind in {"repeat", "refresh"} else ""
    text = f"{severity}: {notice.title}{repeat} [{notice.environment}]"
    return {"text": text, "blocks": blocks}


def follow_up_message(notice: Notice) -> dict[str, Any]:
    if notice.kind == "acknowledged":
        who = notice.acknowledged_by or "someone"
        text = f"Acknowledged by {who} via {notice.acknowledged_via}: {notice.title}"
        mark = ":white_check_mark:"
    else:
        text = f"Resolved: {notice.title}"
        mark = ":large_green_circle:"
    section = {"type": "section", "text": {"type": "mrkdwn", "text": f"{mark} {text}"}}
    return {"text": f"{text} [{notice.environment}]", "blocks": [section, _context(notice)]}


def _context(notice: Notice) -> dict[str, Any]:
    key = notice.alert.get("dedup_key", "")
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": f"dedup key `{key}`"}]}
