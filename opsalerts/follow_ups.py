"""Follow-up notices: a channel that was told an alert is firing is told when someone
acknowledges it (PagerDuty gets ``acknowledge`` with the same dedup key; Slack and Teams get a
follow-up message).

The notice is an outbox row written in the acknowledgement's transaction, so it has the same
retries, lease and attempt log as any delivery. It goes where the alert's last successful
delivery of this episode went, which is the route that alerted people.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from opsalerts.config import parse_ops_alerting
from opsalerts.evaluation import build_payload
from opsalerts.models import Alert, AlertEvent, Delivery
from opsalerts.sync import enqueue_delivery_drain

#: Channels with a notion of acknowledgement to tell. The signed webhook's payload has no
#: acknowledged state, and Alertmanager keeps an acknowledged alert active until it resolves.
FOLLOW_UP_CHANNELS = (
    Delivery.Transport.PAGERDUTY,
    Delivery.Transport.SLACK,
    Delivery.Transport.TEAMS,
)


def queue_acknowledgement_notice(alert: Alert, *, via: str) -> Delivery | None:
    """An outbox row telling the alert's channel it was acknowledged (by whom, through what);
    None when there is no one to tell, or the acknowledgement came from that channel itself
    (PagerDuty already shows its own incident acknowledged)."""
    config, problems = parse_ops_alerting()
    if not config.enabled or problems:
        return None
    last = (
        alert.deliveries.filter(
            status=Delivery.Status.SENT,
            channel__in=FOLLOW_UP_CHANNELS,
            created_at__gte=alert.first_seen,
        )
        .order_by("-pk")
        .first()
    )
    if last is None or (last.channel == Delivery.Transport.PAGERDUTY and via == last.channel):
        return None
    now = timezone.now()
    payload = build_payload(
        [alert],
        config=config,
        routing_key=last.routing_key,
        report_status=str(last.payload.get("report_status", "")),
        now=now,
    )
    payload.update(
        notification="acknowledged",
        acknowledged_by=alert.acknowledged_by,
        acknowledged_via=via,
    )
    notice = Delivery.objects.create(
        route=last.route,
        channel=last.channel,
        webhook_url=last.webhook_url,
        routing_key=last.routing_key,
        webhook_id=f"msg_{uuid.uuid4().hex}",
        payload=payload,
        next_attempt_at=now,
    )
    notice.alerts.set([alert])
    AlertEvent.objects.create(
        alert=alert,
        kind="delivery-queued",
        detail={"delivery": notice.pk, "reason": "acknowledged", "channel": last.channel},
    )
    transaction.on_commit(enqueue_delivery_drain)
    return notice
