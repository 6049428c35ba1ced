"""Every write of the Ops alerting app: evaluation, acknowledgement, silences, synthetic alerts.

Admin actions, views, commands and tasks stay thin and call these. Each is atomic; the outbox
rows (``Delivery``) are written in the same transaction as the alert change that caused them, and
the task that drains the outbox is enqueued only after commit.
"""

from __future__ import annotations

import fnmatch
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cognition.queueing import queue_task
from opsalerts.ack import ack_url_for
from opsalerts.config import OpsAlertingConfig, Route, parse_ops_alerting
from opsalerts.delivery import send_delivery
from opsalerts.evaluation import (
    AlertChanges,
    ReportAlert,
    active_silences,
    build_payload,
    matching_silence,
    notification_due,
    sync_alerts,
)
from opsalerts.models import Alert, AlertEvent, Delivery, Silence
from planners.health import build_health_report
from planners.models import ActionLogEntry
from planners.pipeline.registry import PipelineError
from planners.pipeline.synthetic import clear_synthetic_item, drillable_phase, force_stale_item

logger = logging.getLogger(__name__)

#: The outbox drain (defined in ``opsalerts.tasks``), queued by name: the tasks import this module.
DRAIN_TASK = "opsalerts.tasks.deliver_due_deliveries"


class OpsAlertingError(Exception):
    """An operator-facing refusal (bad configuration, unknown planner, ...)."""


@dataclass
class SyncResult:
    report_status: str
    changes: AlertChanges
    deliveries: list[Delivery] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # dedup key -> why not delivered
    delivery_alerts: dict[int, set[int]] = field(default_factory=dict)  # delivery pk -> alert pks
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
    """Outbox rows for every due notification, one per (webhook URL, routing key)."""
    candidates = result.changes.touched
    in_flight = set(
        Delivery.alerts.through.objects.filter(
            alert_id__in=[a.pk for a in candidates],
            delivery__status__in=(Delivery.Status.PENDING, Delivery.Status.FAILED),
        ).values_list("alert_id", flat=True)
    )
    silences = active_silences(now)
    groups: dict[tuple[str, str], tuple[Route, list[Alert]]] = {}
    reasons: dict[int, str] = {}
    for alert in candidates:
        silence = matching_silence(alert, silences)
        reason = notification_due(
            alert,
            config=config,
            now=now,
            in_flight=alert.pk in in_flight,
            silenced=silence is not None,
        )
        if reason is None:
            result.skipped[alert.dedup_key] = _skip_reason(alert, config, silence, in_flight)
            continue
        route = config.route_for(alert.alert_id, alert.severity)
        if route is None:
            result.skipped[alert.dedup_key] = "no route matches and no default webhook URL"
            continue
        key = (route.webhook_url, route.routing_key)
        groups.setdefault(key, (route, []))[1].append(alert)
        reasons[alert.pk] = reason
    events: list[AlertEvent] = []
    for (url, routing_key), (route, alerts) in groups.items():
        delivery = Delivery.objects.create(
            route=route.match or "default webhook",
            webhook_url=url,
            routing_key=routing_key,
            webhook_id=f"msg_{uuid.uuid4().hex}",
            payload=build_payload(
                alerts,
                config=config,
                routing_key=routing_key,
                report_status=result.report_status,
                now=now,
            ),
            next_attempt_at=now,
        )
        delivery.alerts.set(alerts)
        result.delivery_alerts[delivery.pk] = {a.pk for a in alerts}
        result.deliveries.append(delivery)
        events.extend(
            AlertEvent(
                alert=alert,
                kind="delivery-queued",
                detail={"delivery": delivery.pk, "reason": reasons[alert.pk], "url": url},
            )
            for alert in alerts
        )
    AlertEvent.objects.bulk_create(events)


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


def acknowledge_alert(alert: Alert, *, actor: str, channel: str) -> bool:
    """Mark a firing alert acknowledged (stops repeats). False if it was not firing."""
    if channel not in Alert.Channel.values:
        raise ValueError(f"unknown acknowledgement channel {channel!r}")
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
        AlertEvent.objects.create(alert=alert, kind="acknowledged", actor=actor, channel=channel)
        _log_action(
            "acknowledge",
            actor=actor,
            target=f"alert {alert.dedup_key}",
            detail={"channel": channel, "alert_id": alert.alert_id, "synthetic": alert.synthetic},
            environment=alert.environment,
        )
    logger.info("Alert %s acknowledged by %s via %s", alert.dedup_key, actor, channel)
    return True


def silence_alerts(pattern: str, *, minutes: int, author: str, reason: str = "") -> Silence:
    """Stop delivering alerts whose id matches ``pattern`` (a glob) for ``minutes``."""
    if not pattern.strip():
        raise OpsAlertingError("A silence needs a pattern, e.g. backlog:* or backlog:stale.")
    if minutes <= 0:
        raise OpsAlertingError("A silence must last at least one minute.")
    now = timezone.now()
    with transaction.atomic():
        silence = Silence.objects.create(
            pattern=pattern.strip(),
            starts_at=now,
            ends_at=now + timedelta(minutes=minutes),
            author=author,
            reason=reason,
        )
        record_silence(silence, actor=author)
    return silence


def record_silence(silence: Silence, *, actor: str) -> None:
    """Events on the open alerts it covers and an action log entry (also for admin-made ones)."""
    minutes = int((silence.ends_at - silence.starts_at).total_seconds() // 60)
    with transaction.atomic():
        AlertEvent.objects.bulk_create(
            AlertEvent(
                alert=alert,
                kind="silenced",
                actor=actor,
                detail={"silence": silence.pk, "pattern": silence.pattern, "minutes": minutes},
            )
            for alert in Alert.objects.exclude(status=Alert.Status.RESOLVED)
            if fnmatch.fnmatchcase(alert.alert_id, silence.pattern)
        )
        _log_action(
            "silence",
            actor=actor,
            target=f"alerts matching {silence.pattern}",
            detail={
                "pattern": silence.pattern,
                "minutes": minutes,
                "reason": silence.reason,
                "ends_at": silence.ends_at.isoformat(),
            },
            environment=settings.DEPLOY_ENVIRONMENT,
        )


def alert_is_silenced(alert: Alert, *, now: datetime | None = None) -> bool:
    return matching_silence(alert, active_silences(now or timezone.now())) is not None


def _log_action(
    action: str, *, actor: str, target: str, detail: dict[str, Any], environment: str
) -> None:
    ActionLogEntry.objects.create(
        action=action, actor=actor, target=target[:300], detail=detail, environment=environment
    )


# --- Synthetic alerts ---------------------------------------------------------------------------


@dataclass
class SyntheticResult:
    planner: str
    alert: Alert | None
    delivery: Delivery | None
    ack_url: str
    skipped_reason: str = ""
    outcome: Any = None  # opsalerts.delivery.SendOutcome of the inline attempt


def _drillable(planner_slug: str) -> None:
    """Refuse a planner that cannot be drilled (unknown, or no pipeline runs it)."""
    try:
        drillable_phase(planner_slug)
    except PipelineError as exc:
        raise OpsAlertingError(str(exc)) from None


def _require_delivery(config_problems: list[str], enabled: bool) -> None:
    if not enabled:
        raise OpsAlertingError(
            "OPS_ALERTING_ENABLED is false: a synthetic alert would not be delivered. "
            "Set OPS_ALERTING_ENABLED=true and a webhook URL."
        )
    if config_problems:
        raise OpsAlertingError("Ops alerting is misconfigured: " + "; ".join(config_problems))


def trigger_synthetic_alert(
    planner_slug: str, *, actor: str, now: datetime | None = None
) -> SyntheticResult:
    """Force a stale synthetic backlog entry for the planner, evaluate, and deliver at once.

    The entry lives on a dedicated synthetic plan and is flagged ``synthetic``: the health
    report keeps it out of real counts and raises a separate ``backlog:stale`` alert for it.
    """
    _drillable(planner_slug)
    config, problems = parse_ops_alerting()
    _require_delivery([p.message for p in problems], config.enabled)
    now = now or timezone.now()
    started = now - timedelta(seconds=settings.HEALTH_STALE_BACKLOG_SECONDS + 60)
    with transaction.atomic():
        item = force_stale_item(planner_slug, actor=actor, since=started)
        # Each trigger is a new test: an open synthetic alert from an earlier trigger starts a
        # new episode, so the receiver is told (and asked to acknowledge) again.
        for alert in Alert.objects.select_for_update().filter(
            synthetic=True, planner_slug=planner_slug, environment=config.environment
        ):
            if alert.status != Alert.Status.RESOLVED:
                alert.status = Alert.Status.RESOLVED
                alert.resolved_at = now
            alert.delivered_status = ""
            alert.save(update_fields=["status", "resolved_at", "delivered_status"])
            AlertEvent.objects.create(
                alert=alert, kind="retriggered", actor=actor, detail={"backlog_item": item.pk}
            )
        _log_action(
            "synthetic-alert",
            actor=actor,
            target=f"planner {planner_slug}",
            detail={"backlog_item": item.pk},
            environment=config.environment,
        )
    return _evaluate_and_send_synthetic(planner_slug, now=now)


def resolve_synthetic_alert(
    planner_slug: str, *, actor: str, now: datetime | None = None
) -> SyntheticResult:
    """Clear the planner's synthetic entry and re-evaluate, so its alert resolves (and the
    receiver gets one ``resolved`` notification)."""
    _drillable(planner_slug)
    deleted = clear_synthetic_item(planner_slug)
    logger.info("Cleared %s synthetic entries for %s (%s)", deleted, planner_slug, actor)
    return _evaluate_and_send_synthetic(planner_slug, now=now or timezone.now())


def _evaluate_and_send_synthetic(planner_slug: str, *, now: datetime) -> SyntheticResult:
    result = evaluate_and_sync(now, enqueue=False)
    alert = next(
        (
            a
            for a in [*result.changes.current.values(), *result.changes.resolved]
            if a.synthetic and a.planner_slug == planner_slug
        ),
        None,
    )
    if alert is None:
        alert = (
            Alert.objects.filter(synthetic=True, planner_slug=planner_slug)
            .order_by("-last_seen")
            .first()
        )
    delivery: Delivery | None = None
    outcome = None
    mine = result.deliveries_for(alert) if alert is not None else []
    others = [candidate for candidate in result.deliveries if candidate not in mine]
    if mine:
        delivery = mine[-1]
        outcome = send_delivery(delivery.pk, now=now)
        delivery.refresh_from_db()
    if others:
        # After the synthetic alert's own attempt: a drain running first could claim it.
        transaction.on_commit(enqueue_delivery_drain)
    if alert is not None:
        alert.refresh_from_db()
    ack_url = ack_url_for(alert) if alert and alert.status != Alert.Status.RESOLVED else ""
    skipped = ""
    if alert is None:
        skipped = "the health report raised no synthetic alert for this planner"
    elif delivery is None:
        skipped = result.skipped.get(alert.dedup_key, "nothing was due")
    return SyntheticResult(
        planner=planner_slug,
        alert=alert,
        delivery=delivery,
        ack_url=ack_url,
        skipped_reason=skipped,
        outcome=outcome,
    )
