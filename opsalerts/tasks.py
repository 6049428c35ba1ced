"""Celery tasks: evaluate the health report on beat, and send the outbox.

Tasks take ids and reload rows; sending claims the row first (``opsalerts.delivery``), so a
redelivered or duplicated task does nothing. Retries follow the delivery's own backoff.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import IntegrityError
from django.utils import timezone

from opsalerts.actions import evaluate_and_sync
from opsalerts.delivery import send_delivery, send_due_deliveries

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
    return {
        "report_status": result.report_status,
        "fired": len(result.fired),
        "resolved": len(result.resolved),
        "deliveries": len(result.deliveries),
    }


@shared_task(name="opsalerts.tasks.deliver_delivery", ignore_result=True)
def deliver_delivery(delivery_id: int) -> str | None:
    """One attempt; a retryable failure schedules the next one at its backoff time."""
    outcome = send_delivery(delivery_id)
    if outcome is None:
        return None
    if outcome.retry_at is not None:
        countdown = max((outcome.retry_at - timezone.now()).total_seconds(), 0.0)
        deliver_delivery.apply_async((delivery_id,), countdown=countdown)
    return outcome.status


@shared_task(name="opsalerts.tasks.deliver_due_deliveries", ignore_result=True)
def deliver_due_deliveries() -> int:
    """Beat safety net: anything due (lost task, dead worker, restart) is sent now."""
    return len(send_due_deliveries())
