"""``synthetic_alert_acknowledged``: the drill's alert was acknowledged by the target channel.

It passes only when all of these hold for the planner's latest acknowledged synthetic alert:

- it was acknowledged within ``ROLLOUT_ACK_EVIDENCE_MAX_AGE_SECONDS``;
- a delivery of it reached the route its routing rules choose (same webhook and routing key),
  with a recorded 2xx attempt;
- it was acknowledged through a channel that reaches that route's recipients: the signed link
  that delivery's payload carried (``link``), or the inbound acknowledgement of the delivery's
  own channel (``pagerduty``, ``slack``). The admin, the console and the API reach whoever is
  logged in, not the route's recipients, so they never count.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from opsalerts.ack import AckLinkError, read_ack_token
from opsalerts.config import load_ops_alerting_config
from opsalerts.models import Alert, Delivery, DeliveryAttempt
from planners.rollouts.check_types import CheckContext, CheckResult
from planners.rollouts.config import rollout_settings

TARGET_CHANNELS = Alert.RECIPIENT_CHANNELS


def _payload_carries_link(delivery: Delivery, alert: Alert) -> bool:
    """The delivery's payload holds a valid ack link for this episode of the alert."""
    entries = delivery.payload.get("alerts") if isinstance(delivery.payload, dict) else None
    for entry in entries or ():
        if not isinstance(entry, dict) or entry.get("dedup_key") != alert.dedup_key:
            continue
        token = urlsplit(str(entry.get("ack_url") or "")).path.rstrip("/").rpartition("/")[2]
        try:
            link = read_ack_token(token)
        except AckLinkError:
            continue
        if link.alert.pk == alert.pk and not link.stale_episode:
            return True
    return False


def _reaches_recipients(delivery: Delivery, alert: Alert) -> bool:
    if alert.acknowledged_via == Alert.Channel.LINK:
        return _payload_carries_link(delivery, alert)
    return delivery.channel == alert.acknowledged_via


def _successful_attempt(alert: Alert) -> tuple[Delivery, DeliveryAttempt] | None:
    """The latest delivery of the alert that the route's receiver answered with a 2xx and
    whose channel reached the people who acknowledged it."""
    config = load_ops_alerting_config()
    route = config.route_for(alert.alert_id, alert.severity)
    if route is None:
        return None
    attempts = (
        DeliveryAttempt.objects.select_related("delivery")
        .filter(
            delivery__alerts=alert,
            delivery__webhook_url=route.webhook_url,
            delivery__routing_key=route.routing_key,
            response_code__gte=200,
            response_code__lt=300,
        )
        .order_by("-created_at", "-id")
    )
    for attempt in attempts:
        if _reaches_recipients(attempt.delivery, alert):
            return attempt.delivery, attempt
    return None


def _refused(summary: str, snapshot: dict[str, Any]) -> CheckResult:
    return CheckResult(False, summary, snapshot)


def _latest_acknowledged_drill(ctx: CheckContext, max_age: int) -> Alert | None:
    return (
        Alert.objects.filter(
            synthetic=True,
            planner_slug=ctx.planner.slug,
            environment=ctx.environment,
            acknowledged_at__gte=ctx.now - timedelta(seconds=max_age),
            acknowledged_at__lte=ctx.now,
        )
        .order_by("-acknowledged_at")
        .first()
    )


def check_synthetic_alert_acknowledged(ctx: CheckContext) -> CheckResult:
    max_age = rollout_settings.get().ack_evidence_max_age_seconds
    slug = ctx.planner.slug
    alert = _latest_acknowledged_drill(ctx, max_age)
    snapshot: dict[str, Any] = {"max_age_seconds": max_age}
    if alert is None or alert.acknowledged_at is None:
        return _refused(
            f"No synthetic alert for {slug} acknowledged in the last {max_age} seconds: "
            "trigger one and acknowledge it from the target channel.",
            snapshot,
        )
    snapshot.update(
        alert_id=alert.alert_id,
        dedup_key=alert.dedup_key,
        first_seen=alert.first_seen.isoformat(),
        acknowledged_at=alert.acknowledged_at.isoformat(),
        acknowledged_by=alert.acknowledged_by,
        channel=alert.acknowledged_via,
    )
    if alert.acknowledged_via not in TARGET_CHANNELS:
        return _refused(
            f"{alert.alert_id} was acknowledged from the {alert.acknowledged_via or 'unknown'} "
            "channel, which does not reach the route's recipients: acknowledge the drill "
            "through the link in the notification (or the channel's own acknowledgement).",
            snapshot,
        )
    found = _successful_attempt(alert)
    if found is None:
        return _refused(
            f"{alert.alert_id} has no successful (2xx) delivery to the route its routing rules "
            f"choose that carries the {alert.acknowledged_via} acknowledgement: check the "
            "route's webhook and trigger the drill again.",
            snapshot,
        )
    delivery, attempt = found
    snapshot.update(
        route=delivery.route,
        routing_key=delivery.routing_key,
        delivery_channel=delivery.channel,
        webhook_id=delivery.webhook_id,
        delivery_attempt=attempt.number,
        response_code=attempt.response_code,
        attempted_at=attempt.created_at.isoformat(),
    )
    summary = (
        f"{alert.alert_id} delivered to {delivery.route} (routing key "
        f"{delivery.routing_key or 'none'}, attempt {attempt.number}: {attempt.response_code}) "
        f"and acknowledged by {alert.acknowledged_by or 'unknown'} via "
        f"{alert.acknowledged_via} at {alert.acknowledged_at:%Y-%m-%d %H:%M} UTC."
    )
    return CheckResult(True, summary, snapshot)
