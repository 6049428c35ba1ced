"""Acknowledging alerts: the signed link (no login), the staff API, and the admin action."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from cognition.api_auth import create_api_token
from opsalerts.ack import ack_url_for
from opsalerts.actions import evaluate_and_sync
from opsalerts.models import Alert
from planners.models import ActionLogEntry
from tests.factories.health_alerts import STALE, report

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture
def alert(alerting: Any) -> Alert:
    evaluate_and_sync(T0, report=report(STALE), enqueue=False)
    return Alert.objects.get()


def link_path(alert: Alert) -> str:
    url = ack_url_for(alert)
    assert url.startswith("http://ops.example.test/alerts/ack/")
    return urlsplit(url).path


def test_ack_link_shows_the_alert_and_acknowledges_only_on_post(alert: Alert) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get(link_path(alert))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Acknowledge this alert?" in body
    assert STALE.title in body
    assert "backlog:stale" in body
    alert.refresh_from_db()
    assert alert.status == "firing"  # GET never acknowledges (link scanners fetch URLs)

    token = page.cookies["csrftoken"].value
    done = client.post(link_path(alert), {"name": "Ravi", "csrfmiddlewaretoken": token})
    assert done.status_code == 200
    assert "Alert acknowledged" in done.content.decode()
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_via, alert.acknowledged_by) == (
        "acknowledged",
        "link",
        "Ravi (ack link)",
    )
    assert ActionLogEntry.objects.get(action="acknowledge").detail["channel"] == "link"


def test_second_use_of_the_link_says_already_acknowledged(alert: Alert) -> None:
    client = Client()
    client.post(link_path(alert))
    again = client.post(link_path(alert))
    assert again.status_code == 200
    assert "Already acknowledged" in again.content.decode()
    assert "Acknowledge</button>" not in again.content.decode()
    assert alert.events.filter(kind="acknowledged").count() == 1
    assert "Already acknowledged" in client.get(link_path(alert)).content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_by == "someone (ack link)"  # no name given
    assert "<dd>by someone (ack link) at " in again.content.decode()


def test_tampered_link_is_refused_with_403(alert: Alert) -> None:
    path = link_path(alert)
    token = path.rstrip("/").rsplit("/", 1)[1]
    forged = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    for url in (reverse("opsalerts:ack-link", args=[forged]), "/alerts/ack/not-a-token/"):
        page = Client().post(url)
        assert page.status_code == 403
        assert "This link is not valid" in page.content.decode()
    alert.refresh_from_db()
    assert alert.status == "firing"


def test_expired_link_is_refused_with_403(alert: Alert, settings: Any) -> None:
    settings.OPS_ALERTING_ACK_TTL_SECONDS = 3600
    two_hours_ago = time.time() - 7200
    with mock.patch("django.core.signing.time.time", return_value=two_hours_ago):
        path = link_path(alert)
    page = Client().post(path)
    assert page.status_code == 403
    assert "This link has expired" in page.content.decode()
    alert.refresh_from_db()
    assert alert.status == "firing"


def test_link_to_a_resolved_alert_acknowledges_nothing(alert: Alert) -> None:
    path = link_path(alert)
    evaluate_and_sync(T0, report=report(status="healthy"), enqueue=False)
    page = Client().post(path)
    assert page.status_code == 200
    assert "Alert already resolved" in page.content.decode()
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_api_ack_with_bearer_token(alert: Alert, staff_user: Any) -> None:
    _, token = create_api_token(staff_user, name="pager bridge")
    url = f"/api/alerts/{alert.dedup_key}/ack"
    response = Client().post(url, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["acknowledged"], body["acknowledged_via"]) == (
        "acknowledged",
        True,
        "api",
    )
    assert body["acknowledged_by"] == "olivia"
    again = Client().post(url, HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert (again["acknowledged"], again["already_acknowledged"]) == (False, True)


def test_api_ack_refuses_anonymous_and_non_staff_and_unknown_keys(
    alert: Alert, plain_user: Any, staff_user: Any
) -> None:
    url = f"/api/alerts/{alert.dedup_key}/ack"
    assert Client().post(url).status_code == 401
    assert Client().post(url, HTTP_AUTHORIZATION="Bearer pops_wrong").status_code == 401
    client = Client()
    client.force_login(plain_user)
    assert client.post(url).status_code == 403
    _, token = create_api_token(staff_user)
    missing = Client().post("/api/alerts/nope@dev/ack", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert missing.status_code == 404
    alert.refresh_from_db()
    assert alert.status == "firing"


def test_admin_action_acknowledges_via_admin(alert: Alert, admin_client: Client) -> None:
    response = admin_client.post(
        reverse("admin:opsalerts_alert_changelist"),
        {"action": "acknowledge", "_selected_action": [alert.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Acknowledged 1 alert(s)." in response.content.decode()
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_via, alert.acknowledged_by) == (
        "acknowledged",
        "admin",
        "admin",
    )


def test_admin_shows_alert_with_events_and_deliveries(
    alert: Alert, admin_client: Client, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(25):
        page = admin_client.get(reverse("admin:opsalerts_alert_change", args=[alert.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "fired" in body
    assert "delivery-queued" in body
    assert alert.deliveries.get().webhook_id in body
    listing = admin_client.get(reverse("admin:opsalerts_alert_changelist"))
    assert "Trigger synthetic alert" in listing.content.decode()
    for name in ("alertevent", "delivery", "deliveryattempt"):
        assert admin_client.get(reverse(f"admin:opsalerts_{name}_add")).status_code == 403
