"""Slack (Block Kit incoming webhook, and the Acknowledge button through
``POST /integrations/slack/actions``) and Microsoft Teams (Workflows webhook with an Adaptive
Card), against loopback fakes that refuse what the real services refuse."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from opsalerts.actions import acknowledge_alert, evaluate_and_sync
from opsalerts.delivery import send_due_deliveries
from opsalerts.models import Alert, AlertEvent, Delivery
from opsalerts.signatures import slack_signature
from opsalerts.transports.slack import ACK_ACTION_ID
from planners.framework.catalog import catalog
from planners.rollouts import runbook
from planners.rollouts.verification import run_checks
from tests.channel_fakes import ChannelFake, judge_slack
from tests.factories.channels import SLACK_SECRET, channel_route
from tests.factories.health_alerts import STALE, report
from tests.servers import ReceivedRequest

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ACTIONS = "/integrations/slack/actions"


@pytest.fixture
def slacked(alerting: Any, slack: ChannelFake) -> Any:
    alerting.OPS_ALERTING_ROUTES = channel_route("slack", slack.url("/services/T0/B0/x"))
    alerting.OPS_ALERTING_SLO_THRESHOLDS = '{"alert:backlog:stale": 30}'
    alerting.SLACK_SIGNING_SECRET = SLACK_SECRET
    return alerting


def fire(*alerts: Any, minutes: float = 0) -> None:
    now = T0 + timedelta(minutes=minutes)
    evaluate_and_sync(now, report=report(*alerts), enqueue=False)
    send_due_deliveries(now=now)


def button_value(message: dict[str, Any]) -> str:
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    [button] = actions["elements"]
    return str(button["value"])


def click(
    client: Client,
    value: str,
    *,
    user: str = "Mei Tanaka",
    secret: str = SLACK_SECRET,
    age: float = 0,
) -> Any:
    """Slack's POST for a click on the Acknowledge button, signed as Slack signs it."""
    payload = {
        "type": "block_actions",
        "user": {"id": "U024BE7LH", "username": "mei", "name": user},
        "actions": [{"action_id": ACK_ACTION_ID, "type": "button", "value": value}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(time.time() - age))
    return client.post(
        ACTIONS,
        body,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_SLACK_REQUEST_TIMESTAMP=timestamp,
        HTTP_X_SLACK_SIGNATURE=slack_signature(secret, body, timestamp),
    )


@pytest.mark.django_db
def test_firing_alert_is_a_block_kit_message_slack_accepts(
    slacked: Any, slack: ChannelFake
) -> None:
    fire(STALE)
    [message] = slack.bodies()
    assert message["text"] == "WARNING: 2 backlog items stale [dev]"
    header, fields, description, actions, context = message["blocks"]
    assert header["text"]["text"] == ":warning: WARNING: 2 backlog items stale"
    assert [f["text"] for f in fields["fields"]] == [
        "*Planner*\nchapter-architect",
        "*Plan*\n7",
        "*Environment*\ndev",
        "*SLO*\n30 min",
    ]
    assert description["text"]["text"].startswith("In progress for more than 2 h")
    [button] = actions["elements"]
    assert button["url"].startswith("http://ops.example.test/alerts/ack/")
    assert button["url"].rstrip("/").endswith(button["value"])
    assert context["elements"][0]["text"] == "dedup key `backlog:stale@dev`"
    delivery = Delivery.objects.get()
    assert (delivery.channel, delivery.status, delivery.response_code) == ("slack", "sent", 200)


def test_the_slack_fake_refuses_malformed_blocks() -> None:
    def answer(message: dict[str, Any]) -> tuple[int, str]:
        return judge_slack(ReceivedRequest("/", {}, json.dumps(message).encode()))

    header = {"type": "header", "text": {"type": "mrkdwn", "text": "*not plain*"}}
    assert answer({"text": "x", "blocks": [header]}) == (400, "invalid_blocks")
    assert answer({"blocks": []}) == (400, "no_text")
    assert answer({"text": "x"}) == (200, "ok")


@pytest.mark.django_db
def test_invalid_blocks_answer_is_dead_with_slacks_reason(slacked: Any, slack: ChannelFake) -> None:
    slack.force((400, "invalid_blocks"))
    fire(STALE)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_error) == ("dead", "HTTP 400: invalid_blocks")


@pytest.mark.django_db
def test_acknowledged_and_resolved_are_follow_up_messages(slacked: Any, slack: ChannelFake) -> None:
    fire(STALE)
    acknowledge_alert(Alert.objects.get(), actor="olivia", channel="console")
    send_due_deliveries()
    fire(minutes=10)
    texts = [m["text"] for m in slack.bodies()]
    assert texts == [
        "WARNING: 2 backlog items stale [dev]",
        "Acknowledged by olivia via console: 2 backlog items stale [dev]",
        "Resolved: 2 backlog items stale [dev]",
    ]


@pytest.mark.django_db
def test_button_click_acknowledges_via_slack_naming_the_slack_user(
    slacked: Any, slack: ChannelFake, client: Client
) -> None:
    fire(STALE)
    response = click(client, button_value(slack.bodies()[0]))
    assert response.status_code == 200
    alert = Alert.objects.get()
    assert (alert.status, alert.acknowledged_via, alert.acknowledged_by) == (
        "acknowledged",
        "slack",
        "Mei Tanaka (Slack)",
    )
    send_due_deliveries()
    assert slack.bodies()[-1]["text"].startswith("Acknowledged by Mei Tanaka (Slack) via slack")


@pytest.mark.django_db
@pytest.mark.parametrize("problem", ["other-secret", "stale", "altered"])
def test_unsigned_stale_or_altered_slack_action_gets_401_and_changes_nothing(
    slacked: Any, slack: ChannelFake, client: Client, problem: str
) -> None:
    fire(STALE)
    value = button_value(slack.bodies()[0])
    if problem == "other-secret":
        response = click(client, value, secret="0" * 32)
    elif problem == "stale":
        response = click(client, value, age=301)
    else:
        body = urlencode({"payload": json.dumps({"type": "block_actions"})}).encode()
        timestamp = str(int(time.time()))
        response = client.post(
            ACTIONS,
            body + b"x",
            content_type="application/x-www-form-urlencoded",
            HTTP_X_SLACK_REQUEST_TIMESTAMP=timestamp,
            HTTP_X_SLACK_SIGNATURE=slack_signature(SLACK_SECRET, body, timestamp),
        )
    assert response.status_code == 401
    assert Alert.objects.get().status == "firing"
    assert not AlertEvent.objects.filter(kind="acknowledged").exists()


@pytest.mark.django_db
def test_a_forged_button_value_acknowledges_nothing(slacked: Any, client: Client) -> None:
    fire(STALE)
    assert click(client, "not-a-signed-token").status_code == 200
    assert Alert.objects.get().status == "firing"


@pytest.mark.django_db
def test_slack_actions_are_off_without_a_signing_secret(slacked: Any, client: Client) -> None:
    slacked.SLACK_SIGNING_SECRET = ""
    response = click(client, "x")
    assert response.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_drill_to_slack_completes_wait_ack_when_the_button_is_clicked(
    slacked: Any, slack: ChannelFake, capsys: pytest.CaptureFixture[str]
) -> None:
    def press_acknowledge(request: ReceivedRequest) -> None:
        def press() -> None:
            try:
                click(Client(), button_value(request.json), user="Ravi Kumar")
            finally:
                connection.close()

        if any(b["type"] == "actions" for b in request.json.get("blocks", [])):
            threading.Thread(target=press, daemon=True).start()

    slack.on_request = press_acknowledge
    call_command("trigger_synthetic_alert", "--planner", "vision", "--wait-ack", "600")
    assert "Acknowledged by Ravi Kumar (Slack) via the slack channel" in capsys.readouterr().out

    # The rollout's "acknowledged by the target channel" check takes Slack's word for it.
    evidence = run_checks(catalog.get("vision").metadata, [runbook.SYNTHETIC_ALERT_ACKNOWLEDGED])
    result = evidence[runbook.SYNTHETIC_ALERT_ACKNOWLEDGED]
    assert result.passed, result.summary
    assert (result.snapshot["channel"], result.snapshot["delivery_channel"]) == ("slack", "slack")


@pytest.mark.django_db
def test_teams_gets_an_adaptive_card_with_facts_and_the_ack_link(
    alerting: Any, teams: ChannelFake
) -> None:
    alerting.OPS_ALERTING_ROUTES = channel_route("teams", teams.url("/workflows/abc/invoke"))
    fire(STALE)
    [message] = teams.bodies()
    [attachment] = message["attachments"]
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    heading, _description, facts = card["body"]
    assert heading["text"] == "WARNING: 2 backlog items stale"
    assert {f["title"]: f["value"] for f in facts["facts"]} == {
        "Planner": "chapter-architect",
        "Plan": "7",
        "Environment": "dev",
        "SLO": "none",
        "Dedup key": "backlog:stale@dev",
    }
    [action] = card["actions"]
    assert action["type"] == "Action.OpenUrl"
    assert action["url"].startswith("http://ops.example.test/alerts/ack/")
    delivery = Delivery.objects.get()
    assert (delivery.channel, delivery.status, delivery.response_code) == ("teams", "sent", 202)
    acknowledge_alert(Alert.objects.get(), actor="olivia", channel="console")
    send_due_deliveries()
    follow_up = teams.bodies()[-1]["attachments"][0]["content"]
    assert follow_up["body"][0]["text"].startswith("Acknowledged by olivia via console")
    assert "actions" not in follow_up
