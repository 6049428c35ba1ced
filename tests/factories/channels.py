"""Native Ops channels: routes and the bodies their fakes send (tests/channel_fakes.py)."""

from __future__ import annotations

import json
from typing import Any

PAGERDUTY_KEY = "R0UT1NGKEY0123456789ABCDEFGHIJKL"  # 32 letters and digits, like PagerDuty's
PAGERDUTY_SECRET = "pdWebhookSecret+ForTests/0123456789ABCDEFGHIJKLMNOPQRSTUVW="
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5".replace("y", "1").replace("z", "2")
SLACK_URL = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


def channel_route(channel: str, url: str, **extra: Any) -> str:
    """``OPS_ALERTING_ROUTES`` with one default route in ``channel``."""
    route = {"match": "default", "channel": channel, "webhook_url": url, **extra}
    if channel == "pagerduty":
        route.setdefault("routing_key", PAGERDUTY_KEY)
    if channel == "slack":
        route.setdefault("webhook_url_pattern", r"http://127\.0\.0\.1:\d+/.*")
    return json.dumps([route])


def pagerduty_incident_event(
    event_type: str, *, incident_key: str, agent: str = "Priya Natarajan"
) -> dict[str, Any]:
    """A PagerDuty v3 webhook body, as PagerDuty documents it (abridged to what we read)."""
    return {
        "event": {
            "id": "01DEN2HGV3MPK3N6U3QMC4JWLQ",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2026-11-27T10:15:00.000Z",
            "agent": {
                "id": "PLH1HKV",
                "summary": agent,
                "type": "user_reference",
                "html_url": "https://acme.pagerduty.com/users/PLH1HKV",
            },
            "data": {
                "id": "Q2DP2N3O7TJDNS",
                "type": "incident",
                "status": event_type.removeprefix("incident."),
                "incident_key": incident_key,
                "title": "Stale backlog",
                "html_url": "https://acme.pagerduty.com/incidents/Q2DP2N3O7TJDNS",
            },
        }
    }
