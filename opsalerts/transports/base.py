"""What every channel's transport shares: the notice it renders and the request it returns.

A delivery row carries the payload evaluation built (``opsalerts.evaluation.build_payload``).
For the native channels it holds one alert and says which notification it is (``fired``,
``severity-changed``, ``repeat``, ``refresh``, ``acknowledged`` or ``resolved``); a transport
turns that into its service's request, and says what the service's answer means.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.urls import reverse

from opsalerts.config import OpsAlertingConfig
from opsalerts.outbox import ClaimedDelivery
from opsalerts.webhooks import USER_AGENT

#: Notifications that tell the receiver an alert is (still) firing.
FIRING_NOTICES = frozenset({"fired", "severity-changed", "repeat", "refresh"})


@dataclass(frozen=True)
class OutboundRequest:
    url: str
    body: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Notice:
    """One alert's notification, as the delivery row holds it."""

    kind: str
    alert: dict[str, Any]
    environment: str
    source: str
    report_status: str
    acknowledged_by: str
    acknowledged_via: str

    @classmethod
    def of(cls, delivery: ClaimedDelivery) -> Notice:
        payload = delivery.payload
        alerts = payload.get("alerts") or [{}]
        return cls(
            kind=str(payload.get("notification", "fired")),
            alert=alerts[0],
            environment=str(payload.get("environment", "")),
            source=str(payload.get("source", "")),
            report_status=str(payload.get("report_status", "")),
            acknowledged_by=str(payload.get("acknowledged_by", "")),
            acknowledged_via=str(payload.get("acknowledged_via", "")),
        )

    @property
    def firing(self) -> bool:
        return self.kind in FIRING_NOTICES

    @property
    def title(self) -> str:
        return str(self.alert.get("title") or self.alert.get("id") or "alert")

    @property
    def severity(self) -> str:
        return str(self.alert.get("severity", "warning"))

    @property
    def ack_url(self) -> str:
        return str(self.alert.get("ack_url") or "")

    @property
    def slo(self) -> str:
        minutes = self.alert.get("slo_minutes")
        if minutes is None:
            return "none"
        return f"{minutes} min" + (" (breached)" if self.alert.get("slo_breached") else "")

    def facts(self) -> list[tuple[str, str]]:
        """The alert's facts, in the order every channel shows them."""
        plan = self.alert.get("plan_id")
        return [
            ("Planner", str(self.alert.get("planner") or "-")),
            ("Plan", "-" if plan is None else str(plan)),
            ("Environment", self.environment or "-"),
            ("SLO", self.slo),
        ]


class Transport:
    """One channel: the request for a notice, and the reason to record from an error answer.

    What an answer means is the same for every channel (``opsalerts.webhooks``): 2xx is sent;
    network errors, 408, 429 and 5xx are tried again; anything else is dead."""

    channel: ClassVar[str]

    def request(
        self, delivery: ClaimedDelivery, *, config: OpsAlertingConfig, now: datetime
    ) -> OutboundRequest:
        raise NotImplementedError

    def explain(self, body: str) -> str:
        """The message to record from an error answer's body."""
        return body


def json_request(url: str, document: Any, **headers: str) -> OutboundRequest:
    body = json.dumps(document, separators=(",", ":"), sort_keys=True)
    return OutboundRequest(
        url=url,
        body=body,
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
    )


def console_url() -> str:
    """The console's alerts page, for the links a channel shows next to the alert."""
    return f"{str(settings.PUBLIC_BASE_URL).rstrip('/')}{reverse('console:alerts')}"
