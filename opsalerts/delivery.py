"""Sending outbox rows: claim, POST, record the attempt, then sent / retry later / dead.

A delivery is claimed with one conditional UPDATE that moves ``next_attempt_at`` forward by a
lease and counts the attempt: a second worker (or the beat sweep) finds no due row and does
nothing, so one delivery is never sent twice at once. A worker that dies mid-send leaves the row
due again once the lease runs out. ``webhook_id`` never changes, so a receiver can drop a retry
of a delivery it already processed.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from opsalerts.config import OpsAlertingConfig, load_ops_alerting_config, mask_url
from opsalerts.models import Alert, AlertEvent, Delivery, DeliveryAttempt
from opsalerts.webhooks import WebhookError, encode_payload, post_webhook, signed_headers

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 10
BACKOFF_MAX_SECONDS = 3600
RETRYABLE = (Delivery.Status.PENDING, Delivery.Status.FAILED)


def backoff_seconds(attempt: int) -> int:
    """10 s, 20 s, 40 s, ... capped at an hour: after attempt ``attempt`` failed."""
    return int(min(BACKOFF_BASE_SECONDS * 2 ** max(attempt - 1, 0), BACKOFF_MAX_SECONDS))


@dataclass(frozen=True)
class SendOutcome:
    delivery_id: int
    status: str
    attempt: int
    response_code: int | None
    error: str
    retry_at: datetime | None


@dataclass(frozen=True)
class ClaimedDelivery:
    """What one attempt needs of the outbox row, read back by the claim itself."""

    pk: int
    webhook_url: str
    webhook_id: str
    routing_key: str
    payload: dict[str, Any]
    attempt: int


@functools.cache
def _claim_sql() -> str:
    """``UPDATE ... RETURNING`` (PostgreSQL, SQLite >= 3.35): claim and load in one statement."""
    meta = Delivery._meta
    qn = connection.ops.quote_name
    columns = {field.name: field.column for field in meta.concrete_fields}

    def column(name: str) -> str:
        return qn(columns[name])

    due = column("next_attempt_at")
    return (
        f"UPDATE {qn(meta.db_table)} "
        f"SET {due} = %s, {column('attempts')} = {column('attempts')} + 1 "
        f"WHERE {column('id')} = %s AND {column('status')} IN (%s, %s) "
        f"AND ({due} IS NULL OR {due} <= %s) "
        f"RETURNING {column('webhook_url')}, {column('webhook_id')}, {column('routing_key')}, "
        f"{column('payload')}, {column('attempts')}"
    )


def _claim(delivery_id: int, *, now: datetime, lease: timedelta) -> ClaimedDelivery | None:
    """One conditional UPDATE that both takes the row (only if due and retryable) and returns
    what the attempt needs: a second worker's UPDATE finds the row no longer due and gets no
    row back. The statement commits on its own (autocommit), before any POST."""
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            _claim_sql(),
            [adapt(now + lease), delivery_id, *RETRYABLE, adapt(now)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    url, webhook_id, routing_key, raw_payload, attempts = row
    # JSON arrives as text on both backends (Django decodes it in the field, not the driver).
    payload = json.loads(raw_payload) if isinstance(raw_payload, str | bytes) else raw_payload
    return ClaimedDelivery(delivery_id, url, webhook_id, routing_key, payload, attempts)


def claim_delivery(delivery_id: int, *, now: datetime, lease: timedelta) -> bool:
    """Take the delivery for one attempt; False when it is not due or someone else has it."""
    return _claim(delivery_id, now=now, lease=lease) is not None


def send_delivery(
    delivery_id: int,
    *,
    now: datetime | None = None,
    config: OpsAlertingConfig | None = None,
) -> SendOutcome | None:
    """One attempt at ``delivery_id`` if it is due; None when there was nothing to do.

    Three round trips to the database on success: the claim (which also loads the row), then
    one transaction that records the attempt, marks the delivery sent and the alerts delivered.
    """
    config = config or load_ops_alerting_config()
    now = now or timezone.now()
    lease = timedelta(seconds=config.timeout_seconds * 2 + 30)
    delivery = _claim(delivery_id, now=now, lease=lease)
    if delivery is None:
        return None
    body = encode_payload(delivery.payload)
    headers = signed_headers(
        secret=config.signing_secret,
        webhook_id=delivery.webhook_id,
        timestamp=timezone.now(),
        body=body,
    )
    attempt = delivery.attempt
    try:
        response = post_webhook(
            delivery.webhook_url, body=body, headers=headers, timeout=config.timeout_seconds
        )
    except WebhookError as exc:
        return _record_failure(delivery, exc, attempt=attempt, config=config, now=now)
    # The claim's clock, not the wall clock after the POST: evaluations compare against it.
    finished = now
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery_id=delivery.pk,
            number=attempt,
            response_code=response.status_code,
            duration_ms=response.duration_ms,
        )
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.SENT,
            response_code=response.status_code,
            last_error="",
            sent_at=finished,
            next_attempt_at=None,
        )
        _mark_delivered(delivery, at=finished)
    if logger.isEnabledFor(logging.INFO):
        logger.info(
            "Delivered %s to %s (HTTP %s, attempt %s)",
            delivery.webhook_id,
            mask_url(delivery.webhook_url),
            response.status_code,
            attempt,
        )
    return SendOutcome(delivery.pk, Delivery.Status.SENT, attempt, response.status_code, "", None)


def _delivery_alert_ids(delivery: ClaimedDelivery) -> dict[str, int]:
    """The delivery's alerts as ``{dedup_key: alert id}`` (one query, no model rows)."""
    links = Delivery.alerts.through.objects.filter(delivery_id=delivery.pk)
    return dict(links.values_list("alert__dedup_key", "alert_id"))


def _mark_delivered(delivery: ClaimedDelivery, *, at: datetime) -> None:
    """The receiver now knows each alert in the payload as it was sent (debounce, repeat).

    One UPDATE per distinct (status, severity) sent, not one per alert.
    """
    entries = [e for e in delivery.payload.get("alerts", []) if e.get("dedup_key")]
    if not entries:
        return
    alert_ids = _delivery_alert_ids(delivery)
    sent_as: dict[tuple[str, str], list[int]] = {}
    events: list[AlertEvent] = []
    for entry in entries:
        alert_id = alert_ids.get(entry["dedup_key"])
        if alert_id is None:
            continue
        sent_as.setdefault((entry["status"], entry["severity"]), []).append(alert_id)
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
    for (status, severity), ids in sent_as.items():
        Alert.objects.filter(pk__in=ids).update(
            last_delivered_at=at, delivered_status=status, delivered_severity=severity
        )
    AlertEvent.objects.bulk_create(events)


def _record_failure(
    delivery: ClaimedDelivery,
    exc: WebhookError,
    *,
    attempt: int,
    config: OpsAlertingConfig,
    now: datetime,
) -> SendOutcome:
    give_up = exc.permanent or attempt >= config.max_attempts
    status = Delivery.Status.DEAD if give_up else Delivery.Status.FAILED
    retry_at = None if give_up else now + timedelta(seconds=backoff_seconds(attempt))
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery_id=delivery.pk,
            number=attempt,
            response_code=exc.status_code,
            error=exc.message[:2000],
            duration_ms=exc.duration_ms,
        )
        Delivery.objects.filter(pk=delivery.pk).update(
            status=status,
            response_code=exc.status_code,
            last_error=exc.message[:2000],
            next_attempt_at=retry_at,
        )
        if give_up:
            why = "permanent error" if exc.permanent else f"{attempt} attempts"
            AlertEvent.objects.bulk_create(
                AlertEvent(
                    alert_id=alert_id,
                    kind="delivery-dead",
                    detail={"delivery": delivery.pk, "error": exc.message[:500], "why": why},
                )
                for alert_id in _delivery_alert_ids(delivery).values()
            )
    log = logger.error if give_up else logger.warning
    log(
        "Delivery %s to %s failed (attempt %s/%s, %s): %s",
        delivery.webhook_id,
        mask_url(delivery.webhook_url),
        attempt,
        config.max_attempts,
        "giving up" if give_up else f"retry at {retry_at:%H:%M:%S}" if retry_at else "",
        exc.message,
    )
    return SendOutcome(delivery.pk, status, attempt, exc.status_code, exc.message, retry_at)


def due_delivery_ids(*, now: datetime, limit: int = 100) -> list[int]:
    return list(
        Delivery.objects.filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now), status__in=RETRYABLE
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def send_due_deliveries(*, now: datetime | None = None, limit: int = 100) -> list[SendOutcome]:
    """One attempt at every due delivery (the beat sweep; also the retry path)."""
    now = now or timezone.now()
    config = load_ops_alerting_config()
    outcomes = []
    for delivery_id in due_delivery_ids(now=now, limit=limit):
        outcome = send_delivery(delivery_id, now=now, config=config)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes
