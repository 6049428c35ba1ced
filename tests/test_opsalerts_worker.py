"""Ops alerting on a real Celery worker: the outbox row committed by an evaluation is sent by
the worker's drain, once, even when two drains run."""

from __future__ import annotations

from typing import Any

import pytest
from standardwebhooks import Webhook

from opsalerts.models import Delivery
from opsalerts.sync import enqueue_delivery_drain, evaluate_and_sync
from tests.factories.health_alerts import STALE, report
from tests.servers import SIGNING_SECRET, Receiver
from tests.worker import CeleryWorker, wait_until


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_sends_the_committed_delivery_once(
    alerting: Any,
    receiver: Receiver,
    celery_worker: CeleryWorker,
) -> None:
    celery_worker.start(
        {
            "OPS_ALERTING_ENABLED": "true",
            "OPS_ALERTING_WEBHOOK_URL": receiver.url("/default"),
            "OPS_ALERTING_SIGNING_SECRET": SIGNING_SECRET,
            "OPS_ALERTING_TIMEOUT_SECONDS": "5",
        }
    )
    result = evaluate_and_sync(report=report(STALE))  # enqueues after commit
    [delivery] = result.deliveries
    enqueue_delivery_drain()  # a second drain, as beat would queue

    wait_until(
        lambda: Delivery.objects.filter(pk=delivery.pk, status="sent").exists(),
        timeout=30,
        what=f"the delivery to be sent; worker log:\n{celery_worker.log()}",
    )
    wait_until(
        lambda: celery_worker.log().count("succeeded in") >= 2,
        timeout=15,
        what=f"both tasks to finish; worker log:\n{celery_worker.log()}",
    )
    assert celery_worker.log().count("deliver_due_deliveries") >= 2
    assert len(receiver.requests) == 1
    [request] = receiver.requests
    payload = Webhook(SIGNING_SECRET).verify(request.body, request.headers)
    assert payload["alerts"][0]["dedup_key"] == "backlog:stale@dev"
    assert request.headers["webhook-id"] == delivery.webhook_id
