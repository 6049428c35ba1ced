"""PagerDuty Events API v2: ``trigger`` while firing, ``acknowledge``, ``resolve``.

The event's ``dedup_key`` is the alert's dedup key, so PagerDuty keeps one incident per alert
episode and its v3 webhooks name the incident by that key (``opsalerts.inbound.pagerduty``).
PagerDuty answers 202 on success, 400 with a message and a list of errors for an event it will
never accept, 429 when throttled and 5xx when it is in trouble.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from opsalerts.config import OpsAlertingConfig
from opsalerts.outbox import ClaimedDelivery
from opsalerts.transports.base import Notice, OutboundRequest, Transport, console_url, json_request

#: Ours to PagerDuty's (critical, error, warning, info): our ``error`` is the one that pages.
SEVERITY = {"error": "critical", "warning": "warning", "info": "info"}
SUMMARY_MAX = 1024


class PagerDutyTransport(Transport):
    channel = "pagerduty"

    def request(
        self, delivery: ClaimedDelivery, *, config: OpsAlertingConfig, now: datetime
    ) -> OutboundRequest:
        notice = Notice.of(delivery)
        event: dict[str, Any] = {
            "routing_key": delivery.routing_key,
            "dedup_key": notice.alert.get("dedup_key", ""),
        }
        if notice.kind == "resolved":
            event["event_action"] = "resolve"
        elif notice.kind == "acknowledged":
            event["event_action"] = "acknowledge"
        else:
            event.update(trigger_event(notice))
        return json_request(delivery.webhook_url, event)

    def explain(self, body: str) -> str:
        """``{"status": "invalid event", "message": "...", "errors": [...]}`` as one line."""
        try:
            answer = json.loads(body)
        except ValueError:
            return body
        if not isinstance(answer, dict):
            return body
        errors = answer.get("errors") or []
        message = str(answer.get("message") or answer.get("status") or body)
        return f"{message}: {'; '.join(map(str, errors))}" if errors else message


def trigger_event(notice: Notice) -> dict[str, Any]:
    alert = notice.alert
    details = {
        "alert_id": alert.get("id"),
        "plan_id": alert.get("plan_id"),
        "backlog_id": alert.get("backlog_id") or None,
        "slo_minutes": alert.get("slo_minutes"),
        "slo_breached": alert.get("slo_breached"),
        "report_status": notice.report_status,
        "first_seen": alert.get("first_seen"),
        "synthetic": alert.get("synthetic"),
    }
    payload: dict[str, Any] = {
        "summary": f"[{notice.environment}] {notice.title}"[:SUMMARY_MAX],
        "source": notice.source,
        "severity": SEVERITY.get(notice.severity, "warning"),
        "timestamp": alert.get("last_seen") or alert.get("first_seen"),
        "group": notice.environment,
        "class": alert.get("id"),
        "custom_details": details,
    }
    if alert.get("planner"):
        payload["component"] = alert["planner"]
    links = [{"href": console_url(), "text": "Planner Ops console"}]
    if notice.ack_url:
        links.append({"href": notice.ack_url, "text": "Acknowledge in Planner Ops"})
    return {
        "event_action": "trigger",
        "payload": payload,
        "client": "Planner Ops",
        "client_url": console_url(),
        "links": links,
    }
