"""Acknowledging an alert: stops its repeats and records who did it, when and through which
channel. Every channel (the admin, the console, the signed link, the API, PagerDuty's and
Slack's inbound webhooks) calls ``acknowledge_alert``; ``opsalerts.ack`` makes and reads the
signed links. The channel that alerted people is told (``opsalerts.follow_ups``)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from opsalerts.action_log import log_alerting_action
from opsalerts.follow_ups import queue_acknowledgement_notice
from opsalerts.models import Alert, AlertEvent

logger = logging.getLogger(__name__)

NOTE_MAX_CHARS = 1000


def acknowledge_alert(alert: Alert, *, actor: str, channel: str, note: str = "") -> bool:
    """Mark a firing alert acknowledged (stops repeats). False if it was not firing.

    ``note`` (why the alert can wait) is kept on the acknowledgement event; a rollout's
    ``diagnostics_healthy`` check lets an acknowledged warning through only with one."""
    if channel not in Alert.Channel.values:
        raise ValueError(f"unknown acknowledgement channel {channel!r}")
    note = note.strip()[:NOTE_MAX_CHARS]
    now = timezone.now()
    with transaction.atomic():
        changed = Alert.objects.filter(pk=alert.pk, status=Alert.Status.FIRING).update(
            status=Alert.Status.ACKNOWLEDGED,
            acknowledged_at=now,
            acknowledged_by=actor[:150],
            acknowledged_via=channel,
        )
        if not changed:
            alert.refresh_from_db()
            return False
        alert.refresh_from_db()
        AlertEvent.objects.create(
            alert=alert,
            kind="acknowledged",
            actor=actor,
            channel=channel,
            detail={"note": note} if note else {},
        )
        queue_acknowledgement_notice(alert, via=channel)
        log_alerting_action(
            "acknowledge",
            actor=actor,
            target=f"alert {alert.dedup_key}",
            detail={"channel": channel, "alert_id": alert.alert_id, "synthetic": alert.synthetic},
            environment=alert.environment,
        )
    logger.info("Alert %s acknowledged by %s via %s", alert.dedup_key, actor, channel)
    return True
