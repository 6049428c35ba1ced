"""What a recorded batch tells the alerts: the state the receiver now knows (debounce, repeat)
and the events of their notified and dead deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from opsalerts.models import Alert, AlertEvent, Delivery
from opsalerts.outbox import ClaimedDelivery
from opsalerts.webhooks import WebhookError


def mark_alerts(
    sent: Sequence[ClaimedDelivery],
    dead: Sequence[tuple[ClaimedDelivery, WebhookError]],
    *,
    at: datetime,
) -> list[AlertEvent]:
    """The receiver now knows each alert in a sent payload as it was sent (debounce, repeat),
    with one UPDATE per distinct (status, severity); the events to write for the sent and the
    dead deliveries' alerts."""
    # An acknowledgement notice changes nothing the receiver must be told later: the alert is
    # still open there, and its resolve is still due.
    told = [
        d
        for d in sent
        if any(e.get("dedup_key") for e in d.payload.get("alerts", []))
        and d.payload.get("notification") != "acknowledged"
    ]
    if not told and not dead:
        return []
    alert_ids = _linked_alerts([d.pk for d in told] + [d.pk for d, _ in dead])
    state, events = _told_states(told, alert_ids)
    sent_as: dict[tuple[str, str], list[int]] = {}
    for alert_id, told_as in state.items():
        sent_as.setdefault(told_as, []).append(alert_id)
    for (status, severity), ids in sent_as.items():
        Alert.objects.filter(pk__in=ids).update(
            last_delivered_at=at, delivered_status=status, delivered_severity=severity
        )
    for delivery, exc in dead:
        why = "permanent error" if exc.permanent else f"{delivery.attempt} attempts"
        events.extend(
            AlertEvent(
                alert_id=alert_id,
                kind="delivery-dead",
                detail={"delivery": delivery.pk, "error": exc.message[:500], "why": why},
            )
            for alert_id in alert_ids.get(delivery.pk, {}).values()
        )
    return events


def _linked_alerts(delivery_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per delivery, its alerts' ids by dedup key (one query)."""
    links = Delivery.alerts.through.objects.filter(delivery_id__in=delivery_ids).values_list(
        "delivery_id", "alert__dedup_key", "alert_id"
    )
    alert_ids: dict[int, dict[str, int]] = {}
    for delivery_id, dedup_key, linked_id in links:
        alert_ids.setdefault(delivery_id, {})[dedup_key] = linked_id
    return alert_ids


def _told_states(
    told: Sequence[ClaimedDelivery], alert_ids: dict[int, dict[str, int]]
) -> tuple[dict[int, tuple[str, str]], list[AlertEvent]]:
    """What each alert was told as (status, severity), and a ``notified`` event per telling.
    Deliveries in id order, so an alert in two of them ends as the later one told it."""
    state: dict[int, tuple[str, str]] = {}
    events: list[AlertEvent] = []
    for delivery in told:
        by_key = alert_ids.get(delivery.pk, {})
        for entry in delivery.payload.get("alerts", []):
            alert_id = by_key.get(entry.get("dedup_key", ""))
            if alert_id is None:
                continue
            state[alert_id] = (entry["status"], entry["severity"])
            if delivery.payload.get("notification") == "refresh":
                continue  # Alertmanager's keep-alive: a row a minute would bury the history
            events.append(
                AlertEvent(
                    alert_id=alert_id,
                    kind="notified",
                    detail={
                        "delivery": delivery.pk,
                        "webhook_id": delivery.webhook_id,
                        "status": entry["status"],
                        "routing_key": delivery.routing_key,
                    },
                )
            )
    return state, events
