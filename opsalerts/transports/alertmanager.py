"""Prometheus Alertmanager: ``POST /api/v2/alerts`` with our labels and annotations.

Alertmanager resolves an alert nobody re-posts within its ``resolve_timeout`` (5 minutes by
default), so a firing alert is posted without ``endsAt`` and re-posted every route
``repost_seconds`` (``opsalerts.sync``); the resolve posts it once more with ``endsAt`` set.
The route's URL is the Alertmanager's base URL (``http://alertmanager:9093``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from opsalerts.config import OpsAlertingConfig
from opsalerts.outbox import ClaimedDelivery
from opsalerts.transports.base import Notice, OutboundRequest, Transport, console_url, json_request

API_PATH = "/api/v2/alerts"


class AlertmanagerTransport(Transport):
    channel = "alertmanager"

    def request(
        self, delivery: ClaimedDelivery, *, config: OpsAlertingConfig, now: datetime
    ) -> OutboundRequest:
        notice = Notice.of(delivery)
        return json_request(alerts_url(delivery.webhook_url), [posted_alert(notice, now=now)])

    def explain(self, body: str) -> str:
        try:
            answer = json.loads(body)
        except ValueError:
            return body
        return str(answer.get("message", body)) if isinstance(answer, dict) else body


def alerts_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base if base.endswith(API_PATH) else f"{base}{API_PATH}"


def posted_alert(notice: Notice, *, now: datetime) -> dict[str, Any]:
    alert = notice.alert
    labels = {
        "alertname": str(alert.get("id", "")),
        "severity": notice.severity,
        "planner": str(alert.get("planner") or ""),
        "environment": notice.environment,
        "dedup_key": str(alert.get("dedup_key", "")),
    }
    annotations = {
        "title": notice.title,
        "description": str(alert.get("description") or ""),
        "ack_url": notice.ack_url,
    }
    posted: dict[str, Any] = {
        # Alertmanager treats an empty label as absent; leaving it out says the same.
        "labels": {name: value for name, value in labels.items() if value},
        "annotations": {name: value for name, value in annotations.items() if value},
        "startsAt": alert.get("first_seen"),
        "generatorURL": console_url(),
    }
    if notice.kind == "resolved":
        posted["endsAt"] = now.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return posted
