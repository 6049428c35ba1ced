"""Webhook delivery over a real socket: retries, backoff, 4xx, signatures, single sending."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from opsalerts.actions import evaluate_and_sync
from opsalerts.delivery import backoff_seconds, claim_delivery, send_delivery, send_due_deliveries
from opsalerts.models import Alert, Delivery
from opsalerts.webhooks import WebhookError, post_webhook
from tests.factories.health_alerts import FAILURES, STALE, report
from tests.servers import SIGNING_SECRET, Receiver

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def queue(*alerts: Any, now: datetime = T0) -> list[Delivery]:
    return evaluate_and_sync(now, report=report(*alerts), enqueue=False).deliveries


def test_receiver_down_then_up_gets_every_delivery_exactly_once(
    alerting: Any, receiver: Receiver
) -> None:
    receiver.stop()  # nothing listens on the port now: connection refused
    alerting.OPS_ALERTING_ROUTES = (
        f'[{{"match": "alert:backlog:*", "webhook_url": "{receiver.url("/team")}", '
        f'"routing_key": "team"}}]'
    )
    deliveries = queue(STALE, FAILURES)
    assert len(deliveries) == 2

    first = send_due_deliveries(now=T0)
    assert sorted(o.status for o in first) == ["failed", "failed"]
    assert all("network error" in o.error for o in first)
    assert all(o.retry_at == T0 + timedelta(seconds=10) for o in first)
    # Not due yet: the sweep leaves them alone.
    assert send_due_deliveries(now=T0 + timedelta(seconds=5)) == []

    receiver.start()  # same port
    second = send_due_deliveries(now=T0 + timedelta(seconds=11))
    assert sorted(o.status for o in second) == ["sent", "sent"]
    assert send_due_deliveries(now=T0 + timedelta(hours=1)) == []

    ids = sorted(r.headers["webhook-id"] for r in receiver.requests)
    assert ids == sorted(d.webhook_id for d in deliveries)  # every delivery, none twice
    for delivery in Delivery.objects.all():
        assert delivery.status == "sent"
        assert delivery.attempts == 2
        assert [(a.number, a.response_code) for a in delivery.attempt_log.all()] == [
            (1, None),
            (2, 200),
        ]
    assert set(Alert.objects.values_list("delivered_status", flat=True)) == {"firing"}


def test_signature_verifies_with_standard_webhooks(alerting: Any, receiver: Receiver) -> None:
    [delivery] = queue(STALE)
    send_delivery(delivery.pk, now=T0)
    [request] = receiver.requests
    payload = Webhook(SIGNING_SECRET).verify(request.body, request.headers)
    assert payload["alerts"][0]["dedup_key"] == "backlog:stale@dev"
    assert request.headers["webhook-id"] == delivery.webhook_id
    assert request.headers["Content-Type"] == "application/json"

    tampered = request.body.replace(b"backlog:stale", b"backlog:fine")
    with pytest.raises(WebhookVerificationError):
        Webhook(SIGNING_SECRET).verify(tampered, request.headers)
    other = "whsec_" + "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC0xMjM0NTY="
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(request.body, request.headers)


def test_webhook_id_is_the_same_on_every_retry(alerting: Any, receiver: Receiver) -> None:
    receiver.statuses = [503, 429]
    [delivery] = queue(STALE)
    send_delivery(delivery.pk, now=T0)
    send_delivery(delivery.pk, now=T0 + timedelta(seconds=10))
    send_delivery(delivery.pk, now=T0 + timedelta(seconds=30))
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.webhook_id] * 3
    for request in receiver.requests:
        Webhook(SIGNING_SECRET).verify(request.body, request.headers)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("sent", 3, 200)


def test_5xx_and_429_back_off_exponentially_then_die_at_max_attempts(
    alerting: Any, receiver: Receiver
) -> None:
    receiver.default_status = 500
    [delivery] = queue(STALE)
    now = T0
    outcomes = []
    for _ in range(3):
        outcome = send_delivery(delivery.pk, now=now)
        assert outcome is not None
        outcomes.append(outcome)
        now = outcome.retry_at or now
    assert [o.status for o in outcomes] == ["failed", "failed", "dead"]
    assert [o.retry_at for o in outcomes] == [
        T0 + timedelta(seconds=10),
        T0 + timedelta(seconds=30),
        None,
    ]
    assert [backoff_seconds(n) for n in (1, 2, 3, 4, 20)] == [10, 20, 40, 80, 3600]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("dead", 3, None)
    assert delivery.last_error.startswith("HTTP 500")
    assert "delivery-dead" in set(Alert.objects.get().events.values_list("kind", flat=True))
    assert send_due_deliveries(now=now + timedelta(days=1)) == []


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_other_4xx_is_not_retried(alerting: Any, receiver: Receiver, status: int) -> None:
    receiver.statuses = [status]
    [delivery] = queue(STALE)
    outcome = send_delivery(delivery.pk, now=T0)
    assert outcome is not None
    assert (outcome.status, outcome.response_code, outcome.retry_at) == ("dead", status, None)
    assert send_due_deliveries(now=T0 + timedelta(days=1)) == []
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.attempt_log.get().response_code == status


def test_redirects_are_not_followed(receiver: Receiver) -> None:
    receiver.statuses = [302]
    with pytest.raises(WebhookError) as failed:
        post_webhook(receiver.url(), body="{}", headers={}, timeout=2)
    assert failed.value.permanent is True
    assert failed.value.status_code == 302
    assert len(receiver.requests) == 1


def test_only_http_and_https_urls_are_posted_to() -> None:
    with pytest.raises(WebhookError, match="not an http") as failed:
        post_webhook("file:///etc/hosts", body="{}", headers={}, timeout=1)
    assert failed.value.permanent is True


def test_a_claimed_delivery_cannot_be_claimed_again(alerting: Any) -> None:
    [delivery] = queue(STALE)
    lease = timedelta(seconds=50)
    assert claim_delivery(delivery.pk, now=T0, lease=lease) is True
    assert claim_delivery(delivery.pk, now=T0 + timedelta(seconds=1), lease=lease) is False
    # A worker that died mid-send: the lease runs out and the delivery is due again.
    assert claim_delivery(delivery.pk, now=T0 + timedelta(seconds=51), lease=lease) is True


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_at_once_post_once(alerting: Any, receiver: Receiver) -> None:
    [delivery] = queue(STALE)
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []

    def worker() -> None:
        from django.db import connection

        barrier.wait()
        try:
            outcomes.append(send_delivery(delivery.pk, now=T0))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert len(receiver.requests) == 1
    assert sorted(o.status if o else "nothing" for o in outcomes) == ["nothing", "sent"]
