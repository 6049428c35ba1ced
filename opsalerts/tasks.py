"""Celery tasks: evaluate the health report on beat, and drain the outbox.

The worker sends deliveries by draining the outbox in batches (``send_due_deliveries``): an
evaluation that wrote deliveries queues a drain after commit, beat queues one every 30 s, and a
drain whose attempts failed queues another for their retry time. Sending claims rows first
(``opsalerts.delivery``), so a redelivered or duplicated task does nothing twice.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import IntegrityError
from django.utils import timezone

from cognition.liveness_recording import record_alert_evaluation
from opsalerts.delivery import send_delivery, send_due_deliveries
from opsalerts.sync import DRAIN_TASK, evaluate_and_sync

logger = logging.getLogger(__name__)


@shared_task(name="opsalerts.tasks.evaluate_alerts", ignore_result=True)
def evaluate_alerts() -> dict[str, int | str]:
    """Beat, every HEALTH_EVALUATION_INTERVAL_SECONDS: sync alerts, queue deliveries."""
    try:
        result = evaluate_and_sync()
    except IntegrityError:
        # Another evaluation created the same new alert first; the next run syncs it.
        logger.warning("Alert evaluation raced another one; skipped this run.")
        return {"report_status": "", "fired": 0, "resolved": 0, "deliveries": 0}
    record_alert_evaluation()
    return {
        "report_status": result.report_status,
        "fired": len(result.fired),
        "resolved": len(result.resolved),
        "deliveries": len(result.deliveries),
    }


@shared_task(name="opsalerts.tasks.deliver_delivery", ignore_result=True)
def deliver_delivery(delivery_id: int) -> str | None:
    """One attempt at one delivery; a retryable failure schedules the next one at its backoff
    time. Evaluations queue drains now; this stays for tasks already queued."""
    outcome = send_delivery(delivery_id)
    if outcome is None:
        return None
    if outcome.retry_at is not None:
        countdown = max((outcome.retry_at - timezone.now()).total_seconds(), 0.0)
        deliver_delivery.apply_async((delivery_id,), countdown=countdown)
    return outcome.status


@shared_task(name=DRAIN_TASK, ignore_result=True)
def deliver_due_deliveries() -> int:
    """Drain the outbox: everything due is attempted now, in batches.

    Queued after an evaluation commits its deliveries and by beat (which also catches a lost
    task, a dead worker or a restart). Each distinct retry time among the failed attempts gets
    one more drain at that time, so retries keep their backoff instead of waiting for beat.
    """
    outcomes = send_due_deliveries()
    now = timezone.now()
    for retry_at in sorted({o.retry_at for o in outcomes if o.retry_at is not None}):
        deliver_due_deliveries.apply_async(countdown=max((retry_at - now).total_seconds(), 0.0))
    return len(outcomes)
