"""The ``alertmanager`` channel against a real Prometheus Alertmanager started on 127.0.0.1:
our alert appears with our labels and annotations, is re-posted while open, and is gone once
resolved."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opsalerts.actions import acknowledge_alert, evaluate_and_sync
from opsalerts.delivery import send_due_deliveries
from opsalerts.models import Alert, Delivery
from tests.alertmanager import Alertmanager
from tests.conftest import ALERTMANAGER_PATH
from tests.factories.channels import channel_route
from tests.factories.health_alerts import STALE, report

pytestmark = [pytest.mark.alertmanager, pytest.mark.django_db]


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    server = Alertmanager(ALERTMANAGER_PATH, tmp_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def evaluate(now: datetime, *alerts: Any) -> None:
    evaluate_and_sync(now, report=report(*alerts), enqueue=False)
    send_due_deliveries(now=now)


def test_alert_appears_with_our_labels_is_refreshed_and_disappears_on_resolve(
    alerting: Any, alertmanager: Alertmanager
) -> None:
    alerting.OPS_ALERTING_ROUTES = channel_route("alertmanager", alertmanager.url)
    start = datetime.now(UTC).replace(microsecond=0)
    evaluate(start, STALE)

    [held] = alertmanager.alerts()
    assert held["labels"] == {
        "alertname": "backlog:stale",
        "severity": "warning",
        "planner": "chapter-architect",
        "environment": "dev",
        "dedup_key": "backlog:stale@dev",
    }
    assert held["annotations"]["title"] == "2 backlog items stale"
    assert held["annotations"]["description"].startswith("In progress for more than 2 h")
    assert held["annotations"]["ack_url"].startswith("http://ops.example.test/alerts/ack/")
    assert held["status"]["state"] == "active"

    # Acknowledged here, still open two minutes later: posted again, so Alertmanager's resolve
    # timeout never ends it while the problem lasts.
    assert acknowledge_alert(Alert.objects.get(), actor="olivia", channel="console") is True
    evaluate(start + timedelta(seconds=121), STALE)
    reasons = list(Delivery.objects.order_by("pk").values_list("payload__notification", flat=True))
    assert reasons == ["fired", "refresh"]
    assert [a["labels"]["dedup_key"] for a in alertmanager.alerts()] == ["backlog:stale@dev"]

    evaluate(start + timedelta(minutes=10))
    assert alertmanager.alerts() == []
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
