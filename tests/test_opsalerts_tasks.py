"""The Celery side: beat tasks, the per-delivery task and admin list costs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cognition.celery import app
from opsalerts.models import Alert, AlertEvent, Delivery, Silence
from opsalerts.tasks import deliver_delivery, deliver_due_deliveries, evaluate_alerts
from tests.servers import Receiver


def test_beat_schedules_evaluation_and_the_delivery_sweep() -> None:
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"opsalerts.tasks.evaluate_alerts", "opsalerts.tasks.deliver_due_deliveries"} <= tasks
    app.loader.import_default_modules()
    assert "opsalerts.tasks.evaluate_alerts" in app.tasks
    assert "opsalerts.tasks.deliver_delivery" in app.tasks


@pytest.mark.django_db
def test_evaluate_alerts_task_syncs_the_real_report_and_queues_deliveries(
    alerting: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        summary = evaluate_alerts()
    # A fresh install: templates not seeded, nothing ran.
    assert summary["report_status"] == "critical"
    assert summary["fired"] == Alert.objects.count() > 0
    assert summary["deliveries"] == 1
    assert len(callbacks) == 1
    assert AlertEvent.objects.filter(kind="fired").count() == summary["fired"]


@pytest.mark.django_db
def test_deliver_delivery_task_sends_once(alerting: Any, receiver: Receiver) -> None:
    evaluate_alerts()
    delivery = Delivery.objects.get()
    assert deliver_delivery(delivery.pk) == "sent"
    assert deliver_delivery(delivery.pk) is None  # a duplicate task finds nothing to do
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_sweep_sends_what_is_due(alerting: Any, receiver: Receiver) -> None:
    evaluate_alerts()
    Delivery.objects.update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert deliver_due_deliveries() == 0
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert deliver_due_deliveries() == 1
    assert Delivery.objects.get().status == "sent"


def _alerts(start: int, count: int) -> None:
    """``count`` alerts, each with an event and a silence, all in one delivery."""
    now = timezone.now()
    alerts = Alert.objects.bulk_create(
        Alert(
            dedup_key=f"backlog:flapping:1:item-{n}@dev",
            alert_id=f"backlog:flapping:1:item-{n}",
            environment="dev",
            severity="warning",
            title=f"item {n} flapping",
            first_seen=now,
            last_seen=now,
        )
        for n in range(start, start + count)
    )
    AlertEvent.objects.bulk_create(AlertEvent(alert=a, kind="fired") for a in alerts)
    Silence.objects.bulk_create(
        Silence(pattern=a.alert_id, starts_at=now, ends_at=now + timedelta(hours=1)) for a in alerts
    )
    delivery = Delivery.objects.create(
        webhook_url="http://127.0.0.1:9/hook", webhook_id=f"msg_{start}", payload={}
    )
    delivery.alerts.set(alerts)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "queries"), [("alert", 8), ("delivery", 8), ("alertevent", 9), ("silence", 7)]
)
def test_admin_lists_cost_the_same_queries_at_any_size(
    admin_client: Client, django_assert_num_queries: Any, name: str, queries: int
) -> None:
    url = reverse(f"admin:opsalerts_{name}_changelist")
    _alerts(0, 3)
    admin_client.get(url)  # warm per-process caches (content types)
    with django_assert_num_queries(queries):
        assert admin_client.get(url).status_code == 200
    _alerts(3, 30)
    with django_assert_num_queries(queries):
        assert admin_client.get(url).status_code == 200
