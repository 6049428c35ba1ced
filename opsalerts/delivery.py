"""Sending the outbox in batches: claim due rows, send each, record the batch in one transaction.

Claim. ``opsalerts.outbox`` takes due rows for one attempt each, in one statement committed
before any request; each channel's transport (``opsalerts.transports``) builds the request for
a row and reads the answer.

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

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from opsalerts.config import OpsAlertingConfig, load_ops_alerting_config
from opsalerts.config_formats import mask_url
from opsalerts.delivery_marks import mark_alerts
from opsalerts.models import AlertEvent, Delivery, DeliveryAttempt
from opsalerts.outbox import (
    BATCH_SIZE,
    ClaimedDelivery,
    backoff_seconds,
    claim,
    claim_delivery,
    claim_due_deliveries,
    lease_for,
)
from opsalerts.transports import transport_for
from opsalerts.webhooks import WebhookError, WebhookResponse, post_webhook

__all__ = [
    "BATCH_SIZE",
    "SendOutcome",
    "backoff_seconds",
    "claim_delivery",
    "claim_due_deliveries",
    "lease_for",
    "send_claimed",
    "send_delivery",
    "send_due_deliveries",
]

logger = logging.getLogger(__name__)

# A drain claims no new batch after this long; what is still due waits for the next drain
# (beat queues one every 30 s), so one task never runs for hours behind slow receivers.
DRAIN_TIME_BUDGET_SECONDS = 60.0


@dataclass(frozen=True)
class SendOutcome:
    delivery_id: int
    status: str
    attempt: int
    response_code: int | None
    error: str
    retry_at: datetime | None


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
    claimed = claim("one", delivery_id, now=now, lease=lease_for(config))
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
    """One request in the delivery's channel; its answer as sent, or an error to retry or not."""
    transport = transport_for(delivery.channel)
    request = transport.request(delivery, config=config, now=timezone.now())
    try:
        return post_webhook(
            request.url,
            body=request.body,
            headers=request.headers,
            timeout=config.timeout_seconds,
            explain=transport.explain,
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
        AlertEvent.objects.bulk_create(mark_alerts(sent, dead, at=now))
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
