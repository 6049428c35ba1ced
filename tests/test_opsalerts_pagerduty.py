"""PagerDuty, both ways: Events API v2 out (trigger, acknowledge, resolve) to a strict loopback
fake, and signed v3 webhooks in (``POST /integrations/pagerduty/``) acknowledging our alerts."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from opsalerts.actions import acknowledge_alert, evaluate_and_sync
from opsalerts.delivery import send_due_deliveries
from opsalerts.models import Alert, AlertEvent, Delivery
from opsalerts.signatures import pagerduty_signature
from planners.framework.catalog import catalog
from planners.rollouts import runbook
from planners.rollouts.verification import run_checks
from tests.channel_fakes import ChannelFake, judge_pagerduty
from tests.factories.channels import (
    PAGERDUTY_KEY,
    PAGERDUTY_SECRET,
    channel_route,
    pagerduty_incident_event,
)
from tests.factories.health_alerts import FAILURES, STALE, report
from tests.servers import ReceivedRequest

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
WEBHOOK = "/integrations/pagerduty/"


@pytest.fixture
def paged(alerting: Any, pagerduty: ChannelFake) -> Any:
    alerting.OPS_ALERTING_ROUTES = channel_route("pagerduty", pagerduty.url("/v2/enqueue"))
    alerting.OPS_ALERTING_SLO_THRESHOLDS = '{"alert:backlog:stale": 30}'
    alerting.PAGERDUTY_WEBHOOK_SECRET = PAGERDUTY_SECRET
    return alerting


def fire(*alerts: Any, minutes: float = 0) -> None:
    now = T0 + timedelta(minutes=minutes)
    evaluate_and_sync(now, report=report(*alerts), enqueue=False)
    send_due_deliveries(now=now)


def post_signed(client: Client, body: dict[str, Any], *, secret: str = PAGERDUTY_SECRET) -> Any:
    raw = json.dumps(body).encode()
    return client.post(
        WEBHOOK,
        raw,
        content_type="application/json",
        HTTP_X_PAGERDUTY_SIGNATURE=f"v1=00ff,{pagerduty_signature(secret, raw)}",
    )


@pytest.mark.django_db
def test_firing_alert_triggers_one_incident_per_alert_with_the_documented_fields(
    paged: Any, pagerduty: ChannelFake
) -> None:
    fire(STALE, FAILURES)
    events = {e["payload"]["class"]: e for e in pagerduty.bodies()}
    assert set(events) == {"backlog:stale", "planner:recent-failures"}
    stale = events["backlog:stale"]
    assert (stale["routing_key"], stale["event_action"], stale["dedup_key"]) == (
        PAGERDUTY_KEY,
        "trigger",
        "backlog:stale@dev",
    )
    assert stale["payload"] == {
        "summary": "[dev] 2 backlog items stale",
        "source": "planner-ops",
        "severity": "warning",
        "timestamp": "2026-11-27T09:00:00Z",
        "component": "chapter-architect",
        "group": "dev",
        "class": "backlog:stale",
        "custom_details": {
            "alert_id": "backlog:stale",
            "plan_id": 7,
            "backlog_id": "outline-core-conflicts",
            "slo_minutes": 30,
            "slo_breached": False,
            "report_status": "degraded",
            "first_seen": "2026-11-27T09:00:00Z",
            "synthetic": False,
        },
    }
    assert events["planner:recent-failures"]["payload"]["severity"] == "critical"
    links = {link["text"]: link["href"] for link in stale["links"]}
    assert links["Planner Ops console"] == "http://ops.example.test/alerts/"
    assert links["Acknowledge in Planner Ops"].startswith("http://ops.example.test/alerts/ack/")
    deliveries = Delivery.objects.order_by("pk")
    assert [(d.channel, d.status, d.response_code) for d in deliveries] == [
        ("pagerduty", "sent", 202),
        ("pagerduty", "sent", 202),
    ]


def test_the_pagerduty_fake_refuses_an_event_missing_a_field() -> None:
    def answer(event: dict[str, Any]) -> tuple[int, Any]:
        status, body = judge_pagerduty(
            ReceivedRequest("/v2/enqueue", {}, json.dumps(event).encode())
        )
        return status, json.loads(body)

    trigger = {
        "routing_key": PAGERDUTY_KEY,
        "event_action": "trigger",
        "dedup_key": "k",
        "payload": {"summary": "s", "source": "planner-ops", "severity": "warning"},
    }
    assert answer(trigger) == (
        202,
        {"status": "success", "message": "Event processed", "dedup_key": "k"},
    )
    del trigger["payload"]["source"]  # type: ignore[attr-defined]
    status, body = answer(trigger)
    assert (status, body["errors"]) == (400, ["'payload.source' is missing or blank"])
    assert answer({"routing_key": PAGERDUTY_KEY, "event_action": "resolve"})[0] == 400


@pytest.mark.django_db
def test_resolved_alert_sends_resolve_with_the_same_dedup_key(
    paged: Any, pagerduty: ChannelFake
) -> None:
    fire(STALE)
    fire(minutes=10)  # after the debounce
    assert [(e["event_action"], e["dedup_key"]) for e in pagerduty.bodies()] == [
        ("trigger", "backlog:stale@dev"),
        ("resolve", "backlog:stale@dev"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttled_or_failing_pagerduty_is_retried(
    paged: Any, pagerduty: ChannelFake, status: int
) -> None:
    pagerduty.force((status, '{"status": "throttle"}'))
    fire(STALE)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.response_code) == ("failed", status)
    send_due_deliveries(now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_code, delivery.attempts) == ("sent", 202, 2)


@pytest.mark.django_db
def test_event_pagerduty_refuses_is_dead_with_pagerdutys_message(
    paged: Any, pagerduty: ChannelFake
) -> None:
    refused = {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"],
    }
    pagerduty.force((400, json.dumps(refused)))
    fire(STALE)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("dead", 1)
    assert delivery.last_error == (
        "HTTP 400: Event object is invalid: Length of 'routing_key' is incorrect "
        "(should be 32 characters)"
    )
    assert AlertEvent.objects.filter(kind="delivery-dead").count() == 1


@pytest.mark.django_db
def test_acknowledging_in_the_console_sends_acknowledge_with_the_same_dedup_key(
    paged: Any, pagerduty: ChannelFake, staff_client: Client
) -> None:
    fire(STALE)
    alert = Alert.objects.get()
    response = staff_client.post(reverse("console:acknowledge", args=[alert.pk]))
    assert response.status_code in {200, 302}
    send_due_deliveries()
    assert [(e["event_action"], e["dedup_key"]) for e in pagerduty.bodies()] == [
        ("trigger", "backlog:stale@dev"),
        ("acknowledge", "backlog:stale@dev"),
    ]
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_via) == ("acknowledged", "console")
    # Still told firing: the resolve is still owed to PagerDuty.
    fire(minutes=10)
    assert pagerduty.bodies()[-1]["event_action"] == "resolve"


@pytest.mark.django_db
def test_signed_incident_acknowledged_acknowledges_our_alert_via_pagerduty(
    paged: Any, pagerduty: ChannelFake, client: Client
) -> None:
    fire(STALE)
    body = pagerduty_incident_event("incident.acknowledged", incident_key="backlog:stale@dev")
    response = post_signed(client, body)
    assert response.status_code == 200
    alert = Alert.objects.get()
    assert (alert.status, alert.acknowledged_via, alert.acknowledged_by) == (
        "acknowledged",
        "pagerduty",
        "Priya Natarajan (PagerDuty)",
    )
    event = alert.events.get(kind="acknowledged")
    assert (event.channel, event.actor) == ("pagerduty", "Priya Natarajan (PagerDuty)")
    send_due_deliveries()
    # PagerDuty already shows its incident acknowledged: nothing is sent back.
    assert [e["event_action"] for e in pagerduty.bodies()] == ["trigger"]


@pytest.mark.django_db
def test_incident_resolved_in_pagerduty_is_written_on_the_alert_history(
    paged: Any, client: Client
) -> None:
    fire(STALE)
    body = pagerduty_incident_event("incident.resolved", incident_key="backlog:stale@dev")
    assert post_signed(client, body).status_code == 200
    alert = Alert.objects.get()
    event = alert.events.get(kind="resolved-in-pagerduty")
    assert (event.actor, event.channel, event.detail["incident"]) == (
        "Priya Natarajan",
        "pagerduty",
        "Q2DP2N3O7TJDNS",
    )
    assert alert.status == "firing"  # the health report, not PagerDuty, says when it is over


@pytest.mark.django_db
@pytest.mark.parametrize(
    "signature",
    ["", "v1=deadbeef", "v0=whatever", "wrong-secret"],
    ids=["unsigned", "bad-hex", "other-version", "other-secret"],
)
def test_unsigned_or_tampered_webhook_gets_401_and_changes_nothing(
    paged: Any, client: Client, signature: str
) -> None:
    fire(STALE)
    body = json.dumps(
        pagerduty_incident_event("incident.acknowledged", incident_key="backlog:stale@dev")
    ).encode()
    if signature == "wrong-secret":
        signature = pagerduty_signature("x" * 40, body)
    response = client.post(
        WEBHOOK, body, content_type="application/json", HTTP_X_PAGERDUTY_SIGNATURE=signature
    )
    assert response.status_code == 401
    assert Alert.objects.get().status == "firing"
    assert not AlertEvent.objects.filter(kind="acknowledged").exists()


@pytest.mark.django_db
def test_body_altered_after_signing_is_refused(paged: Any, client: Client) -> None:
    fire(STALE)
    raw = json.dumps(
        pagerduty_incident_event("incident.acknowledged", incident_key="other@dev")
    ).encode()
    signature = pagerduty_signature(PAGERDUTY_SECRET, raw)
    tampered = raw.replace(b"other@dev", b"backlog:stale@dev")
    response = client.post(
        WEBHOOK, tampered, content_type="application/json", HTTP_X_PAGERDUTY_SIGNATURE=signature
    )
    assert response.status_code == 401
    assert Alert.objects.get().status == "firing"


@pytest.mark.django_db
def test_unknown_incident_gets_200_and_a_log_line(
    paged: Any, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    body = pagerduty_incident_event("incident.acknowledged", incident_key="someone-else")
    with caplog.at_level(logging.INFO, logger="opsalerts.integration_views"):
        response = post_signed(client, body)
    assert response.status_code == 200
    assert "no alert with key 'someone-else'" in caplog.text


@pytest.mark.django_db
def test_webhooks_are_off_without_a_secret(paged: Any, client: Client) -> None:
    paged.PAGERDUTY_WEBHOOK_SECRET = ""
    body = pagerduty_incident_event("incident.acknowledged", incident_key="backlog:stale@dev")
    response = post_signed(client, body)
    assert response.status_code == 404
    assert b"PAGERDUTY_WEBHOOK_SECRET is not set" in response.content


@pytest.mark.django_db(transaction=True)
def test_drill_to_pagerduty_completes_wait_ack_when_pagerduty_acknowledges(
    paged: Any, pagerduty: ChannelFake, capsys: pytest.CaptureFixture[str]
) -> None:
    def acknowledge_in_pagerduty(request: ReceivedRequest) -> None:
        # The on-call engineer acknowledges the incident; PagerDuty calls our webhook.
        def webhook() -> None:
            try:
                key = request.json["dedup_key"]
                body = pagerduty_incident_event("incident.acknowledged", incident_key=key)
                post_signed(Client(), body)
            finally:
                connection.close()

        if request.json["event_action"] == "trigger":
            threading.Thread(target=webhook, daemon=True).start()

    pagerduty.on_request = acknowledge_in_pagerduty
    call_command("trigger_synthetic_alert", "--planner", "vision", "--wait-ack", "600")
    out = capsys.readouterr().out
    assert "Acknowledged by Priya Natarajan (PagerDuty) via the pagerduty channel" in out
    [trigger] = [e for e in pagerduty.bodies() if e["event_action"] == "trigger"]
    assert trigger["dedup_key"] == "backlog:stale:synthetic:vision@dev"
    delivery = Delivery.objects.get(channel="pagerduty", status="sent")
    assert delivery.routing_key == PAGERDUTY_KEY

    # The rollout's "acknowledged by the target channel" check takes PagerDuty's word for it.
    evidence = run_checks(catalog.get("vision").metadata, [runbook.SYNTHETIC_ALERT_ACKNOWLEDGED])
    result = evidence[runbook.SYNTHETIC_ALERT_ACKNOWLEDGED]
    assert result.passed, result.summary
    assert (result.snapshot["channel"], result.snapshot["delivery_channel"]) == (
        "pagerduty",
        "pagerduty",
    )
    assert result.snapshot["acknowledged_by"] == "Priya Natarajan (PagerDuty)"


@pytest.mark.django_db
def test_second_alert_acknowledged_from_the_console_sends_acknowledge_after_a_pagerduty_ack(
    paged: Any, pagerduty: ChannelFake, client: Client
) -> None:
    fire(STALE, FAILURES)
    body = pagerduty_incident_event("incident.acknowledged", incident_key="backlog:stale@dev")
    assert post_signed(client, body).status_code == 200
    failures = Alert.objects.get(alert_id="planner:recent-failures")
    assert acknowledge_alert(failures, actor="olivia", channel="console") is True
    send_due_deliveries()
    acks = [e for e in pagerduty.bodies() if e["event_action"] == "acknowledge"]
    assert [a["dedup_key"] for a in acks] == ["planner:recent-failures@dev"]
    assert set(Alert.objects.values_list("acknowledged_via", flat=True)) == {
        "pagerduty",
        "console",
    }
