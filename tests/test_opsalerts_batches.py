"""Draining the outbox in batches over a real socket: one receiver down, crashed drains,
concurrent drains, batch limits and the lease's posting window."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from opsalerts.actions import evaluate_and_sync
from opsalerts.config import load_ops_alerting_config
from opsalerts.delivery import claim_due_deliveries, lease_for, send_due_deliveries
from opsalerts.models import Alert, AlertEvent, Delivery
from opsalerts.tasks import deliver_due_deliveries
from tests.factories.health_alerts import FAILURES, STALE, report
from tests.servers import Receiver

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def outbox(url: str, names: list[str], *, due: datetime = T0) -> list[Delivery]:
    """One pending delivery per name, all due at ``due``, in the order given."""
    return [
        Delivery.objects.create(
            route="test",
            webhook_url=url,
            routing_key="ops",
            webhook_id=f"msg_{name}",
            payload={"schema_version": 1, "alerts": []},
            next_attempt_at=due,
        )
        for name in names
    ]


def test_one_receiver_down_the_rest_of_the_batch_is_sent_and_it_is_retried_with_backoff(
    alerting: Any, receiver: Receiver
) -> None:
    pager = Receiver().start()
    pager.stop()  # nothing listens on the pager's port: connection refused
    alerting.OPS_ALERTING_ROUTES = (
        f'[{{"match": "severity:error", "webhook_url": "{pager.url("/pager")}", '
        f'"routing_key": "pager"}}]'
    )
    deliveries = evaluate_and_sync(T0, report=report(STALE, FAILURES), enqueue=False).deliveries
    to_team, to_pager = sorted(deliveries, key=lambda d: d.webhook_url != receiver.url("/default"))

    first = send_due_deliveries(now=T0)
    by_id = {o.delivery_id: o for o in first}
    assert by_id[to_team.pk].status == "sent"
    assert by_id[to_pager.pk].status == "failed"
    assert by_id[to_pager.pk].retry_at == T0 + timedelta(seconds=10)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [to_team.webhook_id]
    stale, failures = (
        Alert.objects.get(alert_id="backlog:stale"),
        Alert.objects.get(alert_id="planner:recent-failures"),
    )
    assert (stale.delivered_status, stale.last_delivered_at) == ("firing", T0)
    assert (failures.delivered_status, failures.last_delivered_at) == ("", None)
    to_pager.refresh_from_db()
    [attempt] = to_pager.attempt_log.all()
    assert (attempt.number, attempt.response_code) == (1, None)
    assert "network error" in attempt.error

    assert send_due_deliveries(now=T0 + timedelta(seconds=9)) == []  # backing off
    pager.start()  # same port
    try:
        [retry] = send_due_deliveries(now=T0 + timedelta(seconds=10))
    finally:
        pager.stop()
    assert (retry.delivery_id, retry.status, retry.attempt) == (to_pager.pk, "sent", 2)
    assert [r.headers["webhook-id"] for r in pager.requests] == [to_pager.webhook_id]
    assert len(receiver.requests) == 1  # the sent one was not sent again
    failures.refresh_from_db()
    assert failures.delivered_status == "firing"


def test_a_drain_claims_at_most_one_batch_at_a_time_oldest_due_first(receiver: Receiver) -> None:
    deliveries = outbox(receiver.url(), ["b", "c", "d", "e", "f", "a"])
    for seconds, delivery in enumerate(deliveries[:-1]):
        Delivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=T0 + timedelta(seconds=seconds)
        )
    # Created last, due first: a claim goes by due time, not by id.
    Delivery.objects.filter(pk=deliveries[-1].pk).update(next_attempt_at=T0 - timedelta(hours=1))
    now, lease = T0 + timedelta(minutes=1), timedelta(minutes=5)

    first = claim_due_deliveries(now=now, lease=lease, limit=2)
    second = claim_due_deliveries(now=now, lease=lease, limit=2)

    assert sorted(d.webhook_id for d in first) == ["msg_a", "msg_b"]
    assert sorted(d.webhook_id for d in second) == ["msg_c", "msg_d"]
    unclaimed = Delivery.objects.filter(attempts=0).order_by("webhook_id")
    assert list(unclaimed.values_list("webhook_id", flat=True)) == ["msg_e", "msg_f"]


def outbox_with_alerts(url: str, count: int, *, start: int) -> None:
    """``count`` deliveries, each telling the receiver about its own firing alert."""
    for n in range(start, start + count):
        alert = Alert.objects.create(
            dedup_key=f"backlog:flapping:1:item-{n}@dev",
            alert_id=f"backlog:flapping:1:item-{n}",
            environment="dev",
            severity="warning",
            title=f"item {n} flapping",
            first_seen=T0,
            last_seen=T0,
        )
        entry = {"dedup_key": alert.dedup_key, "status": "firing", "severity": "warning"}
        delivery = Delivery.objects.create(
            webhook_url=url,
            webhook_id=f"msg_{n}",
            payload={"schema_version": 1, "alerts": [entry]},
            next_attempt_at=T0,
        )
        delivery.alerts.set([alert])


def test_a_batch_costs_the_same_statements_for_two_deliveries_or_ten(
    alerting: Any, receiver: Receiver
) -> None:
    statements = []
    for start, count in ((0, 2), (100, 10)):
        outbox_with_alerts(receiver.url(), count, start=start)
        with CaptureQueriesContext(connection) as captured:
            assert len(send_due_deliveries(now=T0)) == count
        statements.append(len(captured))
    assert statements[0] == statements[1]
    assert set(Alert.objects.values_list("delivered_status", "last_delivered_at")) == {
        ("firing", T0)
    }
    assert AlertEvent.objects.filter(kind="notified").count() == 12


def test_a_batch_claimed_by_a_drain_that_died_is_sent_again_after_the_lease(
    alerting: Any, receiver: Receiver
) -> None:
    deliveries = outbox(receiver.url(), ["first", "second"])
    lease = lease_for(load_ops_alerting_config())
    # A drain claims the batch and dies before it records anything.
    assert len(claim_due_deliveries(now=T0, lease=lease)) == 2

    assert send_due_deliveries(now=T0 + lease - timedelta(seconds=1)) == []
    again = send_due_deliveries(now=T0 + lease)

    assert sorted(o.status for o in again) == ["sent", "sent"]
    assert sorted(r.headers["webhook-id"] for r in receiver.requests) == [
        "msg_first",
        "msg_second",
    ]
    for delivery in deliveries:
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("sent", 2)  # the lost attempt counts
        assert [a.number for a in delivery.attempt_log.all()] == [2]


def test_a_drain_stops_claiming_when_its_time_budget_is_spent(receiver: Receiver) -> None:
    outbox(receiver.url(), ["first", "second", "third"])
    outcomes = send_due_deliveries(now=T0, batch_size=1, time_budget_seconds=0)
    assert [o.status for o in outcomes] == ["sent"]
    assert Delivery.objects.filter(status="pending").count() == 2


def test_rows_a_batch_has_no_time_for_are_handed_back_uncounted_and_sent_next(
    alerting: Any, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """A batch starts no POST once ``timeout`` has passed since its claim (so it records
    before its lease ends); the rows it did not reach go back and the drain's next batch
    sends them."""
    alerting.OPS_ALERTING_TIMEOUT_SECONDS = "1"
    receiver.on_request = lambda request: time.sleep(0.6)  # each POST takes ~0.6 s
    deliveries = outbox(receiver.url(), ["first", "second", "third"])

    with caplog.at_level(logging.INFO, logger="opsalerts.delivery"):
        outcomes = send_due_deliveries(now=T0, batch_size=3)

    assert "Handed back" in caplog.text
    assert sorted(o.status for o in outcomes) == ["sent", "sent", "sent"]
    assert len(receiver.requests) == 3
    for delivery in deliveries:
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("sent", 1)


def test_a_failed_drain_queues_another_at_the_retry_time(
    alerting: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.statuses = [503]
    outbox(receiver.url(), ["first"], due=T0 - timedelta(days=1))
    queued: list[dict[str, Any]] = []
    monkeypatch.setattr(deliver_due_deliveries, "apply_async", lambda **kw: queued.append(kw))

    assert deliver_due_deliveries() == 1

    [follow_up] = queued
    assert 0 < follow_up["countdown"] <= 10
    assert Delivery.objects.get().status == "failed"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_drains_at_once_send_every_delivery_exactly_once(
    alerting: Any, receiver: Receiver
) -> None:
    names = [f"d{n:02}" for n in range(30)]
    outbox(receiver.url(), names)
    receiver.on_request = lambda request: time.sleep(0.005)
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []

    def drain() -> None:
        barrier.wait()
        try:
            outcomes.extend(send_due_deliveries(now=T0, batch_size=4))
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(r.headers["webhook-id"] for r in receiver.requests) == [f"msg_{n}" for n in names]
    assert sorted(o.status for o in outcomes) == ["sent"] * 30
    assert set(Delivery.objects.values_list("status", "attempts")) == {("sent", 1)}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_drain_skips_rows_another_drain_is_claiming_instead_of_waiting(
    receiver: Receiver,
) -> None:
    busy, _free = outbox(receiver.url(), ["busy", "free"])
    claimed: list[str] = []

    def drain() -> None:
        try:
            claim = claim_due_deliveries(now=T0, lease=timedelta(seconds=60))
            claimed.extend(d.webhook_id for d in claim)
        finally:
            connection.close()

    with transaction.atomic():
        # Another drain's claim statement holds this row's lock right now.
        list(Delivery.objects.select_for_update().filter(pk=busy.pk))
        thread = threading.Thread(target=drain)
        thread.start()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the drain waited for the locked row"
    assert claimed == ["msg_free"]
    assert Delivery.objects.get(pk=busy.pk).attempts == 0
