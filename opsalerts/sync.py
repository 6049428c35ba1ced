"""Evaluation and sync: the health report becomes alert rows, and the due notifications become
outbox rows (``Delivery``) in the same transaction.

``evaluate_and_sync`` is what beat runs every evaluation interval; the drill runs it too, with
``enqueue=False``, to send its own delivery at once. The task that drains the outbox is queued
only after commit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from cognition.queueing import queue_task
from opsalerts.config import OpsAlertingConfig, parse_ops_alerting
from opsalerts.evaluation import (
    AlertChanges,
    ReportAlert,
    build_payload,
    notification_due,
    slo_breach_is_news,
    sync_alerts,
)
from opsalerts.models import Alert, AlertEvent, Delivery, Silence
from opsalerts.routes import Route
from opsalerts.silences import active_silences, matching_silence
from planners.health import build_health_report

logger = logging.getLogger(__name__)

#: The outbox drain (defined in ``opsalerts.tasks``), queued by name: the tasks import this module.
DRAIN_TASK = "opsalerts.tasks.deliver_due_deliveries"


@dataclass
class SyncResult:
    report_status: str
    changes: AlertChanges
    deliveries: list[Delivery] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # dedup key -> why not delivered
    delivery_alerts: dict[int, set[int]] = field(default_factory=dict)  # delivery pk -> alert pks
    undeliverable: dict[int, str] = field(default_factory=dict)  # alert pk -> why it was due
    delivering: bool = False

    @property
    def fired(self) -> list[Alert]:
        return self.changes.fired

    @property
    def resolved(self) -> list[Alert]:
        return self.changes.resolved

    def alert(self, dedup_key: str) -> Alert | None:
        return self.changes.current.get(dedup_key) or next(
            (a for a in self.changes.resolved if a.dedup_key == dedup_key), None
        )

    def deliveries_for(self, alert: Alert) -> list[Delivery]:
        return [d for d in self.deliveries if alert.pk in self.delivery_alerts.get(d.pk, ())]


@dataclass
class _Batch:
    """The alerts one delivery carries: those routed to one (webhook URL, routing key), or, in
    a native channel, one alert (each service takes one alert per request)."""

    route: Route
    alerts: list[Alert] = field(default_factory=list)
    reasons: dict[int, str] = field(default_factory=dict)  # alert pk -> why it is due


def evaluate_and_sync(
    now: datetime | None = None,
    *,
    report: Any = None,
    enqueue: bool = True,
) -> SyncResult:
    """Evaluate the health report and sync alerts; write the deliveries that are due.

    ``report`` defaults to ``planners.health.build_health_report(now=now)``. With
    ``enqueue=False`` the caller sends the returned deliveries itself (synthetic alerts do).
    """
    now = now or timezone.now()
    if report is None:
        report = build_health_report(now=now)
    config, problems = parse_ops_alerting()
    delivering = config.enabled and not problems
    if config.enabled and problems:
        logger.error(
            "Ops alerting is enabled but misconfigured; nothing is delivered: %s",
            "; ".join(p.message for p in problems),
        )
    report_alerts: Sequence[ReportAlert] = report.alerts
    with transaction.atomic():
        changes = sync_alerts(report_alerts, environment=config.environment, now=now)
        result = SyncResult(report_status=str(report.status), changes=changes)
        result.delivering = delivering
        if delivering:
            _write_deliveries(result, config=config, now=now)
        if enqueue and result.deliveries:
            transaction.on_commit(enqueue_delivery_drain)
    logger.info(
        "Evaluated alerts: report %s, %s fired, %s updated, %s resolved, %s deliveries",
        result.report_status,
        len(changes.fired),
        len(changes.updated),
        len(changes.resolved),
        len(result.deliveries),
    )
    return result


def enqueue_delivery_drain() -> None:
    """Queue one drain of the outbox, which sends every due delivery in batches. A broker
    outage loses nothing: the rows are in the outbox and beat queues a drain every 30 s."""
    try:
        queue_task(DRAIN_TASK)
    except Exception:  # kombu raises several types for an unreachable broker
        logger.warning("Could not queue an outbox drain; beat will queue one", exc_info=True)


def _write_deliveries(result: SyncResult, *, config: OpsAlertingConfig, now: datetime) -> None:
    """Outbox rows for every due notification: one per (webhook URL, routing key) for the signed
    webhook, one per alert in the other channels (with the notification it is)."""
    events: list[AlertEvent] = []
    for batch in _due_batches(result, config=config, now=now).values():
        route = batch.route
        payload = build_payload(
            batch.alerts,
            config=config,
            routing_key=route.routing_key,
            report_status=result.report_status,
            now=now,
        )
        if route.channel != Delivery.Transport.WEBHOOK:
            payload["notification"] = batch.reasons[batch.alerts[0].pk]
        delivery = Delivery.objects.create(
            route=route.name,
            channel=route.channel,
            webhook_url=route.target_url,
            routing_key=route.routing_key,
            webhook_id=f"msg_{uuid.uuid4().hex}",
            payload=payload,
            next_attempt_at=now,
        )
        delivery.alerts.set(batch.alerts)
        _note_slo_breaches(batch.alerts, config=config, now=now)
        result.delivery_alerts[delivery.pk] = {a.pk for a in batch.alerts}
        result.deliveries.append(delivery)
        events.extend(
            AlertEvent(
                alert=alert,
                kind="delivery-queued",
                detail={
                    "delivery": delivery.pk,
                    "reason": batch.reasons[alert.pk],
                    "url": route.target_url,
                    "channel": route.channel,
                },
            )
            for alert in batch.alerts
            if batch.reasons[alert.pk] != "refresh"  # routine; would add a row a minute
        )
    events.extend(_undeliverable_events(result))
    AlertEvent.objects.bulk_create(events)


def _undeliverable_events(result: SyncResult) -> list[AlertEvent]:
    """An ``undeliverable`` event for each alert that was due a notification no route takes,
    once per reason (an alert never delivered is due ``fired`` at every evaluation)."""
    if not result.undeliverable:
        return []
    recorded = set(
        AlertEvent.objects.filter(
            alert_id__in=result.undeliverable, kind="undeliverable"
        ).values_list("alert_id", "detail__reason")
    )
    events = []
    for alert in result.changes.touched:
        reason = result.undeliverable.get(alert.pk)
        if reason is None or (alert.pk, reason) in recorded:
            continue
        logger.warning("Alert %s matches no route; not delivered (%s)", alert.dedup_key, reason)
        detail = {"reason": reason, "why": "no route matches and no default webhook URL"}
        events.append(AlertEvent(alert=alert, kind="undeliverable", detail=detail))
    return events


def _note_slo_breaches(alerts: list[Alert], *, config: OpsAlertingConfig, now: datetime) -> None:
    """A delivery now carrying ``slo_breached: true`` tells the breach: no separate notice."""
    told = [a.pk for a in alerts if slo_breach_is_news(a, config=config, now=now)]
    if told:
        Alert.objects.filter(pk__in=told).update(slo_breach_notified_at=now)


def _due_batches(
    result: SyncResult, *, config: OpsAlertingConfig, now: datetime
) -> dict[tuple[str, str, str], _Batch]:
    """The alerts a notification is due for, grouped by route; why the others are skipped goes
    to ``result.skipped``."""
    candidates = result.changes.touched
    in_flight = set(
        Delivery.alerts.through.objects.filter(
            alert_id__in=[a.pk for a in candidates],
            delivery__status__in=(Delivery.Status.PENDING, Delivery.Status.FAILED),
        ).values_list("alert_id", flat=True)
    )
    silences = active_silences(now)
    batches: dict[tuple[str, str, str], _Batch] = {}
    for alert in candidates:
        silence = matching_silence(alert, silences)
        reason = notification_due(
            alert,
            config=config,
            now=now,
            in_flight=alert.pk in in_flight,
            silenced=silence is not None,
        )
        route = config.route_for(alert.alert_id, alert.severity)
        if reason is None and route is not None and silence is None and alert.pk not in in_flight:
            reason = alertmanager_refresh_due(alert, route, now=now)
        if reason is None:
            result.skipped[alert.dedup_key] = _skip_reason(alert, config, silence, in_flight)
            continue
        if route is None:
            result.skipped[alert.dedup_key] = "no route matches and no default webhook URL"
            result.undeliverable[alert.pk] = reason
            continue
        # The generic webhook batches a route's alerts; a native channel sends one per request,
        # and a drill's delivery carries its own synthetic alert only, never the real ones.
        if route.channel != Delivery.Transport.WEBHOOK:
            apart = str(alert.pk)
        else:
            apart = alert.dedup_key if alert.synthetic else ""
        key = (route.target_url, route.routing_key, apart)
        batch = batches.setdefault(key, _Batch(route))
        batch.alerts.append(alert)
        batch.reasons[alert.pk] = reason
    return batches


def alertmanager_refresh_due(alert: Alert, route: Route, *, now: datetime) -> str | None:
    """``refresh`` when Alertmanager must hear of a still-open alert again before its resolve
    timeout forgets it (acknowledged alerts too: they are still active there)."""
    if route.channel != Delivery.Transport.ALERTMANAGER or alert.status == Alert.Status.RESOLVED:
        return None
    if alert.delivered_status != Alert.Status.FIRING or alert.last_delivered_at is None:
        return None
    due = (now - alert.last_delivered_at).total_seconds() >= route.repost_seconds
    return "refresh" if due else None


def _skip_reason(
    alert: Alert, config: OpsAlertingConfig, silence: Silence | None, in_flight: set[int]
) -> str:
    if silence is not None:
        return f"silenced by {silence.pattern!r} until {silence.ends_at:%Y-%m-%d %H:%M} UTC"
    if alert.pk in in_flight:
        return "a delivery for it is already pending"
    if not config.delivers_severity(alert.severity):
        return f"severity {alert.severity} is not in OPS_ALERTING_SEVERITY_FILTER"
    return "nothing new to tell (debounce, repeat interval, or already acknowledged)"
