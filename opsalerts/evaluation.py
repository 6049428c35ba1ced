"""Turning a health report into alert rows and deciding which notifications are due.

``sync_alerts`` writes ``Alert`` and ``AlertEvent`` rows (the caller holds the transaction);
``notification_due`` and ``build_payload`` are pure decisions over rows and the configuration,
kept apart so that the rules (debounce, repeat, silences, the severity filter) read in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from django.db.models import Q

from opsalerts.ack import ack_url_for
from opsalerts.config import OpsAlertingConfig
from opsalerts.models import Alert, AlertEvent

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1


class ReportAlert(Protocol):
    """What evaluation needs of ``planners.health.HealthAlert``."""

    id: str
    severity: str
    title: str
    description: str
    planner: str
    plan_id: int | None
    backlog_id: str
    template_id: str
    synthetic: bool

    def dedup_key(self, environment: str) -> str: ...


@dataclass
class AlertChanges:
    """What one sync did to the alert rows."""

    fired: list[Alert] = field(default_factory=list)
    updated: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    current: dict[str, Alert] = field(default_factory=dict)  # dedup key -> row, still present
    # Resolved earlier while the receiver still believes them firing (debounced or failed).
    unannounced: list[Alert] = field(default_factory=list)
    open_before: int = 0

    @property
    def touched(self) -> list[Alert]:
        """Every row a notification could be due for."""
        return [*self.current.values(), *self.resolved, *self.unannounced]


def sync_alerts(
    report_alerts: Iterable[ReportAlert], *, environment: str, now: datetime
) -> AlertChanges:
    """Sync rows by dedup key: new → firing, present → last seen, gone → resolved.

    State changes (fired, refired, severity-changed, updated, resolved) write an ``AlertEvent``;
    the routine ``last_seen``/``occurrences`` bump of a still-present alert does not, or every
    evaluation would add a row per alert. Must run inside a transaction: the rows are locked
    so two evaluations do not interleave.
    """
    wanted: dict[str, ReportAlert] = {}
    for report_alert in report_alerts:
        wanted.setdefault(report_alert.dedup_key(environment), report_alert)
    rows = {
        alert.dedup_key: alert
        for alert in Alert.objects.select_for_update().filter(
            Q(dedup_key__in=list(wanted))
            | ~Q(status=Alert.Status.RESOLVED)
            | Q(delivered_status=Alert.Status.FIRING),
            environment=environment,
        )
    }
    changes = AlertChanges(
        open_before=sum(1 for a in rows.values() if a.status != Alert.Status.RESOLVED)
    )
    events: list[AlertEvent] = []
    for key, source in wanted.items():
        alert = rows.get(key)
        if alert is None:
            alert = _fire(key, source, environment=environment, now=now, events=events)
            changes.fired.append(alert)
        elif alert.status == Alert.Status.RESOLVED:
            _refire(alert, source, now=now, events=events)
            changes.fired.append(alert)
        elif _update(alert, source, now=now, events=events):
            changes.updated.append(alert)
        changes.current[key] = alert

    for key, alert in rows.items():
        if key in wanted:
            continue
        if alert.status == Alert.Status.RESOLVED:
            changes.unannounced.append(alert)
            continue
        alert.status = Alert.Status.RESOLVED
        alert.resolved_at = now
        alert.save(update_fields=["status", "resolved_at"])
        events.append(AlertEvent(alert=alert, kind="resolved"))
        changes.resolved.append(alert)
    AlertEvent.objects.bulk_create(events)
    return changes


def _fire(
    key: str, source: ReportAlert, *, environment: str, now: datetime, events: list[AlertEvent]
) -> Alert:
    """A new alert row, firing."""
    alert = Alert.objects.create(
        dedup_key=key,
        environment=environment,
        status=Alert.Status.FIRING,
        first_seen=now,
        last_seen=now,
        **_content(source),
    )
    events.append(AlertEvent(alert=alert, kind="fired", detail=_snapshot(alert)))
    return alert


def _refire(alert: Alert, source: ReportAlert, *, now: datetime, events: list[AlertEvent]) -> None:
    """A new episode of a known, resolved alert: start over (a new ack is needed)."""
    for name, value in _content(source).items():
        setattr(alert, name, value)
    alert.status = Alert.Status.FIRING
    alert.first_seen = now
    alert.last_seen = now
    alert.occurrences += 1
    alert.resolved_at = None
    alert.acknowledged_at = None
    alert.acknowledged_by = ""
    alert.acknowledged_via = ""
    alert.slo_breach_notified_at = None
    alert.save()
    events.append(AlertEvent(alert=alert, kind="refired", detail=_snapshot(alert)))


def _update(alert: Alert, source: ReportAlert, *, now: datetime, events: list[AlertEvent]) -> bool:
    """Bump a still-open alert's ``last_seen``; True (with an event) when its content changed."""
    content = _content(source)
    before = {name: getattr(alert, name) for name in content}
    for name, value in content.items():
        setattr(alert, name, value)
    alert.last_seen = now
    alert.occurrences += 1
    alert.save(update_fields=[*content, "last_seen", "occurrences"])
    if before["severity"] != alert.severity:
        events.append(
            AlertEvent(
                alert=alert,
                kind="severity-changed",
                detail={"from": before["severity"], "to": alert.severity},
            )
        )
        return True
    if before != content:
        changed = sorted(name for name in content if before[name] != content[name])
        events.append(AlertEvent(alert=alert, kind="updated", detail={"fields": changed}))
        return True
    return False


def _content(source: ReportAlert) -> dict[str, Any]:
    return {
        "alert_id": source.id,
        "severity": str(source.severity),
        "title": source.title[:300],
        "description": source.description,
        "planner_slug": source.planner,
        "plan_id": source.plan_id,
        "backlog_id": source.backlog_id,
        "template_id": source.template_id,
        "synthetic": source.synthetic,
    }


def _snapshot(alert: Alert) -> dict[str, Any]:
    return {"severity": alert.severity, "title": alert.title}


def notification_due(
    alert: Alert,
    *,
    config: OpsAlertingConfig,
    now: datetime,
    in_flight: bool,
    silenced: bool,
) -> str | None:
    """Why ``alert`` needs a notification now (``fired``, ``severity-changed``,
    ``slo-breached``, ``repeat``, ``resolved``), or None.

    The receiver's view is ``delivered_status``/``delivered_severity``, written only when a
    delivery succeeds: so a failed delivery is retried by a later evaluation, and debounce
    (``OPS_ALERTING_DEBOUNCE_SECONDS`` since the last *successful* delivery) delays rather than
    drops a change. Synthetic alerts skip debounce: each one is a deliberate test.
    A repeat interval of 0 means never repeat; a repeat is never sooner than the debounce
    (the configuration refuses a shorter one). A breached SLO is news: the first evaluation
    that finds a firing, unacknowledged alert past its SLO sends ``slo-breached`` at once,
    whatever the debounce and the repeat interval (once per alert).
    """
    if in_flight or silenced or not config.delivers_severity(alert.severity):
        return None
    since_delivery = None if alert.last_delivered_at is None else now - alert.last_delivered_at
    debounced = (
        not alert.synthetic
        and since_delivery is not None
        and since_delivery < timedelta(seconds=config.debounce_seconds)
    )
    told_firing = alert.delivered_status == Alert.Status.FIRING
    if alert.status == Alert.Status.RESOLVED:
        return "resolved" if told_firing and not debounced else None
    if not told_firing:
        if alert.status == Alert.Status.ACKNOWLEDGED:
            return None  # someone already knows; nothing to page about
        return None if debounced else "fired"
    if alert.severity != alert.delivered_severity:
        return None if debounced else "severity-changed"
    if alert.status == Alert.Status.FIRING and slo_breach_is_news(alert, config=config, now=now):
        return "slo-breached"
    if (
        alert.status == Alert.Status.FIRING
        and config.repeat_seconds > 0
        and since_delivery is not None
        and since_delivery >= timedelta(seconds=config.repeat_seconds)
    ):
        return "repeat"
    return None


def slo_breach_is_news(alert: Alert, *, config: OpsAlertingConfig, now: datetime) -> bool:
    """The alert's SLO is breached and no notification has said so yet."""
    return alert.slo_breach_notified_at is None and slo_fields(alert, config=config, now=now)[1]


def slo_fields(
    alert: Alert, *, config: OpsAlertingConfig, now: datetime
) -> tuple[float | int | None, bool]:
    """``slo_minutes`` for the alert and whether it went unacknowledged and unresolved longer."""
    minutes = config.slo_minutes_for(alert.alert_id, alert.severity)
    if minutes is None:
        return None, False
    ended = alert.acknowledged_at or alert.resolved_at or now
    breached = (ended - alert.first_seen) > timedelta(minutes=minutes)
    return (int(minutes) if float(minutes).is_integer() else minutes), breached


def payload_alert(alert: Alert, *, config: OpsAlertingConfig, now: datetime) -> dict[str, Any]:
    slo_minutes, slo_breached = slo_fields(alert, config=config, now=now)
    resolved = alert.status == Alert.Status.RESOLVED
    return {
        "id": alert.alert_id,
        "dedup_key": alert.dedup_key,
        "status": "resolved" if resolved else "firing",
        "severity": alert.severity,
        "title": alert.title,
        "description": alert.description,
        "planner": alert.planner_slug,
        "plan_id": alert.plan_id,
        "backlog_id": alert.backlog_id,
        "first_seen": _iso(alert.first_seen),
        "last_seen": _iso(alert.last_seen),
        "slo_minutes": slo_minutes,
        "slo_breached": slo_breached,
        "ack_url": "" if resolved else ack_url_for(alert),
        "synthetic": alert.synthetic,
    }


def build_payload(
    alerts: Sequence[Alert],
    *,
    config: OpsAlertingConfig,
    routing_key: str,
    report_status: str,
    now: datetime,
) -> dict[str, Any]:
    """The JSON body of one delivery (issue 4's payload, ``schema_version`` 1)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "source": config.source,
        "environment": config.environment,
        "routing_key": routing_key,
        "report_status": report_status,
        "alerts": [payload_alert(alert, config=config, now=now) for alert in alerts],
    }


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
