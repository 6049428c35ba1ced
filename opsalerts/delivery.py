"""Sending the outbox in batches: claim due rows, POST each, record the batch in one transaction.

Claim. One statement takes up to ``BATCH_SIZE`` due rows and returns what their POSTs need:
``WITH batch AS MATERIALIZED (SELECT id ... ORDER BY next_attempt_at, id LIMIT n FOR UPDATE
SKIP LOCKED) UPDATE ... SET next_attempt_at = <end of lease>, attempts = attempts + 1 WHERE id
IN batch ... RETURNING ...``. It commits on its own, before any POST. On PostgreSQL a drain
running at the same moment skips the rows being claimed and takes the next ones; SQLite has a
single writer, so the statement is atomic there without row locks. A claimed row is not due
until its lease ends, so two drains (or a drain and ``send_delivery``) never POST the same
delivery at once.

Lease. ``2 * timeout + 30 s`` from the claim. A batch starts no POST once ``timeout`` seconds
have passed since its claim, so its last POST ends and the batch is recorded inside the lease;
the rows it did not reach are handed back (due again, the attempt not counted) when the batch
is recorded, and the drain claims them in its next batch.

Record. One transaction per batch: every attempt in one INSERT, the sent rows in one UPDATE
per response code, the failed and dead rows in one bulk UPDATE, the alerts marked delivered
(debounce, repeat) in one UPDATE per state the receiver was told, and their events in one
INSERT. Sent rows are done; a retryable failure is due again after ``backoff_seconds``; a
permanent failure, or the last of ``max_attempts``, makes the row ``dead``.

At least once. A worker that dies between the claim and the record leaves every row of its
batch claimed: each becomes due again when the lease ends and is sent again with the same
``webhook_id``, so a receiver may get a delivery twice (Standard Webhooks receivers drop
duplicates by ``webhook-id``) but never loses one. Such a lost attempt counts in ``attempts``
but has no ``DeliveryAttempt`` row. A batch holds up to ``BATCH_SIZE`` rows, so one crash can
repeat that many deliveries (one, when deliveries were sent one task each). An unexpected
exception in the middle of a batch records the POSTs already made and hands back the rows not
reached before it propagates; the row it came from keeps its lease, like a crashed worker's.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from opsalerts.config import OpsAlertingConfig, load_ops_alerting_config, mask_url
from opsalerts.models import Alert, AlertEvent, Delivery, DeliveryAttempt
from opsalerts.webhooks import (
    WebhookError,
    WebhookResponse,
    encode_payload,
    post_webhook,
    signed_headers,
)

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 10
BACKOFF_MAX_SECONDS = 3600
RETRYABLE = (Delivery.Status.PENDING, Delivery.Status.FAILED)
BATCH_SIZE = 100
# A drain claims no new batch after this long; what is still due waits for the next drain
# (beat queues one every 30 s), so one task never runs for hours behind slow receivers.
DRAIN_TIME_BUDGET_SECONDS = 60.0


def backoff_seconds(attempt: int) -> int:
    """10 s, 20 s, 40 s, ... capped at an hour: after attempt ``attempt`` failed."""
    return int(min(BACKOFF_BASE_SECONDS * 2 ** max(attempt - 1, 0), BACKOFF_MAX_SECONDS))


def lease_for(config: OpsAlertingConfig) -> timedelta:
    return timedelta(seconds=config.timeout_seconds * 2 + 30)


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
def _claim_sql(which: str) -> str:
    """``UPDATE ... RETURNING`` (PostgreSQL, SQLite >= 3.35): claim and load in one statement.

    Built by hand because the ORM has no UPDATE ... RETURNING, and claiming a batch with
    ``select_for_update(skip_locked=True)`` then updating it costs a second round trip per
    batch, which is what bounds the delivery figure in ``make bench``.
    ``which`` is ``"one"`` (one row by id) or ``"due"`` (the oldest due rows, up to a limit).
    """
    meta = Delivery._meta
    qn = connection.ops.quote_name
    columns = {field.name: field.column for field in meta.concrete_fields}

    def column(name: str) -> str:
        return qn(columns[name])

    table, pk, due, attempts = (
        qn(meta.db_table),
        column("id"),
        column("next_attempt_at"),
        column("attempts"),
    )
    claimable = f"{column('status')} IN (%s, %s) AND ({due} IS NULL OR {due} <= %s)"

    def claim(rows: str) -> str:
        return (
            f"UPDATE {table} SET {due} = %s, {attempts} = {attempts} + 1 "
            f"WHERE {rows} AND {claimable} "
            f"RETURNING {pk}, {column('webhook_url')}, {column('webhook_id')}, "
            f"{column('routing_key')}, {column('payload')}, {attempts}"
        )

    if which == "one":
        return claim(f"{pk} = %s")
    # MATERIALIZED: the batch is chosen once. As a plain ``IN (SELECT ... LIMIT n)`` PostgreSQL
    # may rescan the subquery for every row it updates and claim far more than n rows.
    # SKIP LOCKED: a concurrent drain takes the next rows instead of waiting for these.
    skip_locked = (
        " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    )
    batch = (
        f"WITH batch AS MATERIALIZED (SELECT {pk} FROM {table} WHERE {claimable} "
        f"ORDER BY {due}, {pk} LIMIT %s{skip_locked}) "
    )
    return batch + claim(f"{pk} IN (SELECT {pk} FROM batch)")


def _claim(which: str, selector: Any, *, now: datetime, lease: timedelta) -> list[ClaimedDelivery]:
    """One claim statement, committed on its own before any POST; the claimed rows by id.

    ``selector`` is the delivery id (``"one"``) or the batch size (``"due"``).
    """
    adapt = connection.ops.adapt_datetimefield_value
    claimable = [*RETRYABLE, adapt(now)]
    if which == "one":
        params = [adapt(now + lease), selector, *claimable]
    else:
        params = [*claimable, selector, adapt(now + lease), *claimable]
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(which), params)
        rows = cursor.fetchall()
    claimed = []
    for pk, url, webhook_id, routing_key, raw_payload, attempts in rows:
        # JSON arrives as text on both backends (Django decodes it in the field, not the driver).
        payload = json.loads(raw_payload) if isinstance(raw_payload, str | bytes) else raw_payload
        claimed.append(ClaimedDelivery(pk, url, webhook_id, routing_key, payload, attempts))
    claimed.sort(key=lambda delivery: delivery.pk)
    return claimed


def claim_delivery(delivery_id: int, *, now: datetime, lease: timedelta) -> bool:
    """Take the delivery for one attempt; False when it is not due or someone else has it."""
    return bool(_claim("one", delivery_id, now=now, lease=lease))


def claim_due_deliveries(
    *, now: datetime, lease: timedelta, limit: int = BATCH_SIZE
) -> list[ClaimedDelivery]:
    """Take up to ``limit`` due deliveries, oldest due first, for one attempt each."""
    return _claim("due", limit, now=now, lease=lease)


def send_delivery(
    delivery_id: int,
    *,
    now: datetime | None = None,
    config: OpsAlertingConfig | None = None,
) -> SendOutcome | None:
    """One attempt at ``delivery_id`` if it is due (a batch of one); None when there was
    nothing to do. Synthetic alerts send their own delivery this way, at once."""
    config = config or load_ops_alerting_config()
    now = now or timezone.now()
    claimed = _claim("one", delivery_id, now=now, lease=lease_for(config))
    outcomes = send_claimed(claimed, now=now, config=config)
    return outcomes[0] if outcomes else None


def send_due_deliveries(
    *,
    now: datetime | None = None,
    config: OpsAlertingConfig | None = None,
    batch_size: int = BATCH_SIZE,
    time_budget_seconds: float = DRAIN_TIME_BUDGET_SECONDS,
) -> list[SendOutcome]:
    """Drain the outbox: one attempt at every due delivery, a batch at a time, until a batch
    comes back short or the time budget is spent. What the worker runs after an evaluation
    and on beat (also the retry path)."""
    config = config or load_ops_alerting_config()
    lease = lease_for(config)
    started = time.monotonic()
    outcomes: list[SendOutcome] = []
    while True:
        # A fresh clock per batch: each lease must start when its batch is claimed.
        batch_now = now or timezone.now()
        claimed = claim_due_deliveries(now=batch_now, lease=lease, limit=batch_size)
        outcomes.extend(send_claimed(claimed, now=batch_now, config=config))
        if len(claimed) < batch_size or time.monotonic() - started >= time_budget_seconds:
            return outcomes


Result = WebhookResponse | WebhookError


def send_claimed(
    claimed: Sequence[ClaimedDelivery], *, now: datetime, config: OpsAlertingConfig
) -> list[SendOutcome]:
    """POST each claimed delivery in turn, then record the batch in one transaction.

    ``now`` is the claim's clock: outcomes are stamped with it, not with the wall clock after
    the POSTs, because evaluations compare against it (debounce, repeat).
    """
    if not claimed:
        return []
    started = time.monotonic()
    results: list[tuple[ClaimedDelivery, Result]] = []
    try:
        for delivery in claimed:
            if results and time.monotonic() - started > config.timeout_seconds:
                break  # a further POST could outlast the lease: hand the rest back
            results.append((delivery, _post(delivery, config)))
    except BaseException:
        # Record the POSTs made. The row whose POST raised keeps its lease, as a crashed
        # worker's would, so it cannot hold up the rows behind it; those are handed back.
        _record(results, unsent=claimed[len(results) + 1 :], now=now, config=config)
        raise
    outcomes = _record(results, unsent=claimed[len(results) :], now=now, config=config)
    _log(results, outcomes, unsent=len(claimed) - len(results), config=config)
    return outcomes


def _post(delivery: ClaimedDelivery, config: OpsAlertingConfig) -> Result:
    body = encode_payload(delivery.payload)
    headers = signed_headers(
        secret=config.signing_secret,
        webhook_id=delivery.webhook_id,
        timestamp=timezone.now(),
        body=body,
    )
    try:
        return post_webhook(
            delivery.webhook_url, body=body, headers=headers, timeout=config.timeout_seconds
        )
    except WebhookError as exc:
        return exc


def _record(
    results: Sequence[tuple[ClaimedDelivery, Result]],
    *,
    unsent: Sequence[ClaimedDelivery],
    now: datetime,
    config: OpsAlertingConfig,
) -> list[SendOutcome]:
    """The batch's attempts, row states and alert marks, in one transaction."""
    outcomes: list[SendOutcome] = []
    sent: list[ClaimedDelivery] = []
    sent_by_code: dict[int, list[int]] = {}
    failed: list[Delivery] = []
    dead: list[tuple[ClaimedDelivery, WebhookError]] = []
    for delivery, result in results:
        if isinstance(result, WebhookResponse):
            code = result.status_code
            sent.append(delivery)
            sent_by_code.setdefault(code, []).append(delivery.pk)
            outcomes.append(
                SendOutcome(delivery.pk, Delivery.Status.SENT, delivery.attempt, code, "", None)
            )
            continue
        outcome = _failure_outcome(delivery, result, now=now, config=config)
        outcomes.append(outcome)
        failed.append(
            Delivery(
                pk=delivery.pk,
                status=outcome.status,
                response_code=result.status_code,
                last_error=result.message[:2000],
                next_attempt_at=outcome.retry_at,
            )
        )
        if outcome.status == Delivery.Status.DEAD:
            dead.append((delivery, result))
    with transaction.atomic():
        DeliveryAttempt.objects.bulk_create(_attempt_row(d, result) for d, result in results)
        for code, ids in sent_by_code.items():
            Delivery.objects.filter(pk__in=ids).update(
                status=Delivery.Status.SENT,
                response_code=code,
                last_error="",
                sent_at=now,
                next_attempt_at=None,
            )
        if failed:
            Delivery.objects.bulk_update(
                failed, ["status", "response_code", "last_error", "next_attempt_at"]
            )
        if unsent:
            # Not attempted: due again at once, and the claim's count of the attempt undone.
            Delivery.objects.filter(pk__in=[d.pk for d in unsent]).update(
                next_attempt_at=now, attempts=F("attempts") - 1
            )
        AlertEvent.objects.bulk_create(_mark_alerts(sent, dead, at=now))
    return outcomes


def _failure_outcome(
    delivery: ClaimedDelivery, exc: WebhookError, *, now: datetime, config: OpsAlertingConfig
) -> SendOutcome:
    """Retry after the backoff, or give up: a permanent error, or the last allowed attempt."""
    give_up = exc.permanent or delivery.attempt >= config.max_attempts
    status = Delivery.Status.DEAD if give_up else Delivery.Status.FAILED
    retry_at = None if give_up else now + timedelta(seconds=backoff_seconds(delivery.attempt))
    return SendOutcome(
        delivery.pk, status, delivery.attempt, exc.status_code, exc.message, retry_at
    )


def _attempt_row(delivery: ClaimedDelivery, result: Result) -> DeliveryAttempt:
    error = result.message[:2000] if isinstance(result, WebhookError) else ""
    return DeliveryAttempt(
        delivery_id=delivery.pk,
        number=delivery.attempt,
        response_code=result.status_code,
        error=error,
        duration_ms=result.duration_ms,
    )


def _mark_alerts(
    sent: Sequence[ClaimedDelivery],
    dead: Sequence[tuple[ClaimedDelivery, WebhookError]],
    *,
    at: datetime,
) -> list[AlertEvent]:
    """The receiver now knows each alert in a sent payload as it was sent (debounce, repeat),
    with one UPDATE per distinct (status, severity); the events to write for the sent and the
    dead deliveries' alerts."""
    told = [d for d in sent if any(e.get("dedup_key") for e in d.payload.get("alerts", []))]
    if not told and not dead:
        return []
    links = Delivery.alerts.through.objects.filter(
        delivery_id__in=[d.pk for d in told] + [d.pk for d, _ in dead]
    ).values_list("delivery_id", "alert__dedup_key", "alert_id")
    alert_ids: dict[int, dict[str, int]] = {}
    for delivery_id, dedup_key, linked_id in links:
        alert_ids.setdefault(delivery_id, {})[dedup_key] = linked_id
    # Deliveries in id order, so an alert in two of them ends as the later one told it.
    state: dict[int, tuple[str, str]] = {}
    events: list[AlertEvent] = []
    for delivery in told:
        by_key = alert_ids.get(delivery.pk, {})
        for entry in delivery.payload.get("alerts", []):
            alert_id = by_key.get(entry.get("dedup_key", ""))
            if alert_id is None:
                continue
            state[alert_id] = (entry["status"], entry["severity"])
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


def _log(
    results: Sequence[tuple[ClaimedDelivery, Result]],
    outcomes: Sequence[SendOutcome],
    *,
    unsent: int,
    config: OpsAlertingConfig,
) -> None:
    info = logger.isEnabledFor(logging.INFO)
    for (delivery, result), outcome in zip(results, outcomes, strict=True):
        if isinstance(result, WebhookResponse):
            if info:
                logger.info(
                    "Delivered %s to %s (HTTP %s, attempt %s)",
                    delivery.webhook_id,
                    mask_url(delivery.webhook_url),
                    result.status_code,
                    outcome.attempt,
                )
            continue
        give_up = outcome.status == Delivery.Status.DEAD
        (logger.error if give_up else logger.warning)(
            "Delivery %s to %s failed (attempt %s/%s, %s): %s",
            delivery.webhook_id,
            mask_url(delivery.webhook_url),
            outcome.attempt,
            config.max_attempts,
            "giving up" if give_up else f"retry at {outcome.retry_at:%H:%M:%S}",
            result.message,
        )
    if unsent:
        logger.info("Handed back %s claimed deliveries the batch had no time for", unsent)
