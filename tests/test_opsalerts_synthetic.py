"""Synthetic alerts: the runbook's evidence that a planner's alert reaches and is acknowledged
by the target channel. Runs the real health report, a real receiver and the real command."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.urls import reverse
from standardwebhooks import Webhook

from cognition.api_auth import create_api_token
from opsalerts.actions import OpsAlertingError, resolve_synthetic_alert, trigger_synthetic_alert
from opsalerts.models import Alert
from planners.health import build_health_report
from planners.models import BacklogItem
from tests.servers import SIGNING_SECRET, ReceivedRequest, Receiver


@pytest.mark.django_db
def test_synthetic_alert_is_delivered_at_once_and_kept_out_of_real_counts(
    alerting: Any, receiver: Receiver
) -> None:
    alerting.OPS_ALERTING_ROUTES = (
        f'[{{"match": "alert:backlog:stale", "webhook_url": "{receiver.url("/team")}", '
        f'"routing_key": "team-planners"}}]'
    )
    alerting.OPS_ALERTING_SLO_THRESHOLDS = '{"alert:backlog:stale": 30}'
    result = trigger_synthetic_alert("vision", actor="olivia")

    assert result.alert is not None
    assert result.alert.dedup_key == "backlog:stale:synthetic:vision@dev"
    assert (result.alert.alert_id, result.alert.synthetic) == ("backlog:stale", True)
    assert result.delivery is not None
    assert (result.delivery.status, result.delivery.response_code) == ("sent", 200)
    assert result.ack_url.startswith("http://ops.example.test/alerts/ack/")

    [request] = receiver.posts("/team")
    payload = Webhook(SIGNING_SECRET).verify(request.body, request.headers)
    assert payload["routing_key"] == "team-planners"
    [entry] = [a for a in payload["alerts"] if a["synthetic"]]
    assert (entry["planner"], entry["slo_minutes"], entry["ack_url"]) == (
        "vision",
        30,
        result.ack_url,
    )

    item = BacklogItem.objects.get(synthetic=True)
    assert (item.status, item.phase) == ("in_progress", "vision")
    health = build_health_report()
    assert health.backlog.counts["in_progress"] == 0  # not a real item
    assert not any(a.id == "backlog:stale" and not a.synthetic for a in health.alerts)


@pytest.mark.django_db
def test_resolve_clears_the_entry_and_sends_one_resolved_notice(
    alerting: Any, receiver: Receiver
) -> None:
    trigger_synthetic_alert("chapter-architect", actor="olivia")
    result = resolve_synthetic_alert("chapter-architect", actor="olivia")
    assert result.alert is not None
    assert result.alert.status == "resolved"
    assert not BacklogItem.objects.filter(synthetic=True).exists()
    statuses = [a["status"] for r in receiver.requests for a in r.json["alerts"] if a["synthetic"]]
    assert statuses == ["firing", "resolved"]
    resolve_synthetic_alert("chapter-architect", actor="olivia")
    statuses = [a["status"] for r in receiver.requests for a in r.json["alerts"] if a["synthetic"]]
    assert statuses == ["firing", "resolved"]


@pytest.mark.django_db
def test_triggering_again_sends_a_new_notification(alerting: Any, receiver: Receiver) -> None:
    first = trigger_synthetic_alert("vision", actor="olivia")
    second = trigger_synthetic_alert("vision", actor="olivia")
    assert first.alert is not None
    assert second.alert is not None
    assert first.alert.pk == second.alert.pk
    assert second.delivery is not None
    assert second.delivery.status == "sent"
    assert len([r for r in receiver.requests if "synthetic" in r.body.decode()]) == 2


@pytest.mark.django_db
def test_unknown_planner_is_a_clear_error(alerting: Any) -> None:
    unknown = r"Cannot drill planner 'visoin' \(unknown planner\); planners in a pipeline: "
    with pytest.raises(OpsAlertingError, match=unknown):
        trigger_synthetic_alert("visoin", actor="olivia")
    with pytest.raises(CommandError, match=unknown):
        call_command("trigger_synthetic_alert", "--planner", "visoin")
    assert not BacklogItem.objects.exists()


@pytest.mark.django_db
def test_receiver_down_is_reported_with_a_non_zero_exit(
    alerting: Any, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver.stop()
    with pytest.raises(CommandError, match="Delivery not confirmed yet \\(network error"):
        call_command("trigger_synthetic_alert", "--planner", "vision")
    assert "delivery:      failed" in capsys.readouterr().out


@pytest.mark.django_db
def test_disabled_alerting_refuses_to_trigger(alerting: Any) -> None:
    alerting.OPS_ALERTING_ENABLED = False
    with pytest.raises(CommandError, match="OPS_ALERTING_ENABLED is false"):
        call_command("trigger_synthetic_alert", "--planner", "vision")


@pytest.mark.django_db
def test_command_prints_alert_delivery_and_ack_url(
    alerting: Any, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("trigger_synthetic_alert", "--planner", "scene-weaver")
    out = capsys.readouterr().out
    assert "alert id:      backlog:stale" in out
    assert "dedup key:     backlog:stale:synthetic:scene-weaver@dev" in out
    assert "delivery:      sent" in out
    assert "response code: 200" in out
    assert "ack URL:       http://ops.example.test/alerts/ack/" in out


@pytest.mark.django_db(transaction=True)
def test_wait_ack_exits_0_when_the_receiver_follows_the_ack_link(
    alerting: Any, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    def follow_ack_link(request: ReceivedRequest) -> None:
        # What a person does from the chat message: open the link, press Acknowledge.
        def ack() -> None:
            try:
                [entry] = [a for a in request.json["alerts"] if a["synthetic"]]
                path = urlsplit(entry["ack_url"]).path
                Client().post(path, {"name": "Ravi"})
            finally:
                connection.close()

        threading.Thread(target=ack, daemon=True).start()

    receiver.on_request = follow_ack_link
    call_command("trigger_synthetic_alert", "--planner", "vision", "--wait-ack", "15")
    out = capsys.readouterr().out
    assert "Acknowledged by Ravi (ack link) via the link channel" in out
    assert "(the target channel)" in out
    alert = Alert.objects.get(synthetic=True)
    assert (alert.status, alert.acknowledged_via) == ("acknowledged", "link")


@pytest.mark.django_db(transaction=True)
def test_wait_ack_exits_4_when_only_the_api_acknowledged(
    alerting: Any, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    acknowledging: list[threading.Thread] = []

    def acknowledge_from_the_api(request: ReceivedRequest) -> None:
        # Someone acknowledges with a script instead of the notification's link.
        def ack() -> None:
            try:
                [entry] = [a for a in request.json["alerts"] if a["synthetic"]]
                user = User.objects.create_user("ops-bot", is_staff=True)
                _, token = create_api_token(user)
                Client().post(
                    f"/api/alerts/{entry['dedup_key']}/ack", HTTP_AUTHORIZATION=f"Bearer {token}"
                )
            finally:
                connection.close()

        acknowledging.append(threading.Thread(target=ack, daemon=True))
        acknowledging[-1].start()

    receiver.on_request = acknowledge_from_the_api
    with pytest.raises(SystemExit) as stopped:
        call_command("trigger_synthetic_alert", "--planner", "vision", "--wait-ack", "15")
    # The command may see the acknowledgement before the script's request has returned.
    for thread in acknowledging:
        thread.join(timeout=10)

    assert stopped.value.code == 4
    err = capsys.readouterr().err
    assert "Acknowledged by ops-bot via the api channel" in err
    assert "not the target channel" in err


@pytest.mark.django_db(transaction=True)
def test_wait_ack_exits_3_on_timeout(alerting: Any, receiver: Receiver) -> None:
    with pytest.raises(SystemExit) as stopped:
        call_command("trigger_synthetic_alert", "--planner", "vision", "--wait-ack", "1")
    assert stopped.value.code == 3
    assert Alert.objects.get(synthetic=True).status == "firing"


@pytest.mark.django_db
def test_admin_triggers_and_resolves_a_synthetic_alert(
    alerting: Any, receiver: Receiver, admin_client: Client
) -> None:
    page = admin_client.get(reverse("admin:opsalerts_alert_trigger_synthetic"))
    assert page.status_code == 200
    assert "scene-weaver" in page.content.decode()
    response = admin_client.post(
        reverse("admin:opsalerts_alert_trigger_synthetic"), {"planner": "iterative"}, follow=True
    )
    assert "Synthetic alert for iterative: backlog:stale:synthetic:iterative@dev" in (
        response.content.decode()
    )
    alert = Alert.objects.get(synthetic=True)
    assert alert.status == "firing"
    admin_client.post(
        reverse("admin:opsalerts_alert_changelist"),
        {"action": "resolve_synthetic", "_selected_action": [alert.pk]},
    )
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert [a["status"] for r in receiver.requests for a in r.json["alerts"] if a["synthetic"]] == [
        "firing",
        "resolved",
    ]
