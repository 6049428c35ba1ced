"""Channels in the Ops alerting configuration: each route's channel is checked at start-up with
a message naming the route and field, and ``check_ops_alerting`` says where each route goes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from opsalerts.config import load_ops_alerting_config, validate_ops_alerting
from tests.factories.channels import PAGERDUTY_KEY, SLACK_SECRET, SLACK_URL
from tests.servers import SIGNING_SECRET

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def ops(settings: Any) -> Any:
    settings.DEPLOY_ENVIRONMENT = "staging"
    settings.OPS_ALERTING_ENABLED = True
    settings.OPS_ALERTING_WEBHOOK_URL = ""
    settings.OPS_ALERTING_ROUTING_KEY = ""
    settings.OPS_ALERTING_CHANNEL = "webhook"
    settings.OPS_ALERTING_SIGNING_SECRET = SIGNING_SECRET
    settings.PAGERDUTY_WEBHOOK_SECRET = ""
    settings.SLACK_SIGNING_SECRET = ""
    return settings


def routes(*entries: dict[str, Any]) -> str:
    return json.dumps(list(entries))


def test_every_channel_configured_as_the_readme_shows_is_valid(ops: Any) -> None:
    ops.OPS_ALERTING_ROUTES = routes(
        {"match": "severity:error", "channel": "pagerduty", "routing_key": PAGERDUTY_KEY},
        {"match": "alert:backlog:*", "channel": "slack", "webhook_url": SLACK_URL},
        {
            "match": "alert:template-*",
            "channel": "teams",
            "webhook_url": "https://prod-01.westus.logic.azure.com:443/workflows/abc/triggers/"
            "manual/paths/invoke?api-version=2016-06-01&sig=xyz",
        },
        {"match": "default", "channel": "alertmanager", "webhook_url": "http://am.internal:9093"},
    )
    ops.SLACK_SIGNING_SECRET = SLACK_SECRET
    assert validate_ops_alerting() == []
    config = load_ops_alerting_config()
    pagerduty = config.route_for("planner:recent-failures", "error")
    assert pagerduty is not None
    assert pagerduty.target_url == "https://events.pagerduty.com/v2/enqueue"
    assert [r.channel for r in config.routes] == ["pagerduty", "slack", "teams", "alertmanager"]


def test_a_route_without_a_channel_is_the_signed_webhook(ops: Any) -> None:
    ops.OPS_ALERTING_ROUTES = routes({"match": "default", "webhook_url": "https://h.test/x"})
    assert validate_ops_alerting() == []
    assert load_ops_alerting_config().routes[0].channel == "webhook"


def test_pagerduty_route_without_routing_key_is_refused(ops: Any) -> None:
    ops.OPS_ALERTING_ROUTES = routes({"match": "default", "channel": "pagerduty"})
    assert validate_ops_alerting() == [
        "OPS_ALERTING_ROUTES[0].routing_key: empty; a pagerduty route needs the service's "
        "integration key."
    ]


def test_pagerduty_routing_key_of_the_wrong_length_is_refused(ops: Any) -> None:
    ops.OPS_ALERTING_ROUTES = routes(
        {"match": "default", "channel": "pagerduty", "routing_key": "planner-pager"}
    )
    assert validate_ops_alerting() == [
        "OPS_ALERTING_ROUTES[0].routing_key: not a PagerDuty integration key (expected 32 "
        "letters and digits, got 13 characters)."
    ]


def test_slack_route_to_a_url_that_is_not_a_slack_webhook_is_refused(ops: Any) -> None:
    ops.OPS_ALERTING_ROUTES = routes(
        {"match": "default", "channel": "slack", "webhook_url": "https://hooks.example.test/x"}
    )
    assert validate_ops_alerting() == [
        "OPS_ALERTING_ROUTES[0].webhook_url: not a Slack incoming-webhook URL (expected "
        "https://hooks.slack.com/services/T…/B…/…)."
    ]


def test_slack_url_pattern_override_lets_a_proxy_through(ops: Any) -> None:
    ops.OPS_ALERTING_ROUTES = routes(
        {
            "match": "default",
            "channel": "slack",
            "webhook_url": "http://127.0.0.1:8125/slack/ops",
            "webhook_url_pattern": r"http://127\.0\.0\.1:\d+/slack/.*",
        }
    )
    assert validate_ops_alerting() == []


def test_teams_office_365_connector_url_is_refused_as_retired(ops: Any) -> None:
    ops.OPS_ALERTING_ROUTES = routes(
        {
            "match": "default",
            "channel": "teams",
            "webhook_url": "https://contoso.webhook.office.com/webhookb2/abc@def/IncomingWebhook/x/y",
        }
    )
    [message] = validate_ops_alerting()
    assert message.startswith(
        "OPS_ALERTING_ROUTES[0].webhook_url: Office 365 connector URLs are retired"
    )
    assert "Workflows" in message


def test_unknown_channel_and_unknown_field_are_refused_naming_the_route(ops: Any) -> None:
    ops.OPS_ALERTING_ROUTES = routes(
        {"match": "default", "channel": "pager", "webhook_url": "https://h.test/x"},
        {"match": "default", "webhook_url": "https://h.test/x", "routingkey": "typo"},
    )
    assert validate_ops_alerting() == [
        "OPS_ALERTING_ROUTES[0].channel: unknown channel 'pager' (expected one of webhook, "
        "pagerduty, slack, teams, alertmanager).",
        "OPS_ALERTING_ROUTES[1].routingkey: unknown field (expected match, channel, "
        "webhook_url, routing_key, ...).",
    ]


def test_default_route_channel_is_checked_under_its_own_variables(ops: Any) -> None:
    ops.OPS_ALERTING_ROUTES = ""
    ops.OPS_ALERTING_CHANNEL = "pagerduty"
    assert validate_ops_alerting() == [
        "OPS_ALERTING_WEBHOOK_URL: OPS_ALERTING_ENABLED is true but no webhook URL is "
        "configured (set OPS_ALERTING_WEBHOOK_URL or a route in OPS_ALERTING_ROUTES)."
    ]
    ops.OPS_ALERTING_ROUTING_KEY = PAGERDUTY_KEY
    assert validate_ops_alerting() == []
    route = load_ops_alerting_config().route_for("backlog:stale", "warning")
    assert route is not None
    assert route.channel == "pagerduty"


def test_inbound_secrets_in_the_wrong_format_are_refused(ops: Any) -> None:
    ops.OPS_ALERTING_ROUTES = routes({"match": "default", "webhook_url": "https://h.test/x"})
    ops.PAGERDUTY_WEBHOOK_SECRET = "short"
    ops.SLACK_SIGNING_SECRET = "xoxb-not-a-signing-secret"
    assert validate_ops_alerting() == [
        "PAGERDUTY_WEBHOOK_SECRET: not a PagerDuty webhook secret (expected the subscription's "
        "secret as PagerDuty shows it: at least 32 letters, digits, +, / or =).",
        "SLACK_SIGNING_SECRET: not a Slack signing secret (expected the app's Signing Secret "
        "from Basic Information: 32 lowercase hexadecimal characters).",
    ]


def test_no_signing_secret_needed_when_no_route_is_a_signed_webhook(ops: Any) -> None:
    ops.OPS_ALERTING_SIGNING_SECRET = ""
    ops.OPS_ALERTING_ROUTES = routes(
        {"match": "default", "channel": "pagerduty", "routing_key": PAGERDUTY_KEY}
    )
    assert validate_ops_alerting() == []


def test_check_command_prints_each_routes_channel_and_masks_the_integration_key(
    ops: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ops.OPS_ALERTING_ROUTES = routes(
        {"match": "severity:error", "channel": "pagerduty", "routing_key": PAGERDUTY_KEY},
        {"match": "default", "channel": "slack", "webhook_url": SLACK_URL},
    )
    call_command("check_ops_alerting")
    out = capsys.readouterr().out
    assert (
        f"[0] severity:error -> pagerduty https://events.pagerduty.com/v2/…ueue "
        f"(routing key …{PAGERDUTY_KEY[-4:]})" in out
    )
    assert "[1] default -> slack https://hooks.slack.com/services/…" in out
    assert PAGERDUTY_KEY not in out
    assert SLACK_URL not in out


def test_a_bad_channel_stops_start_up_with_one_configuration_error_line() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "OPS_ALERTING_ENABLED": "true",
        "OPS_ALERTING_ROUTES": routes({"match": "default", "channel": "pagerduty"}),
        "DEMO": "0",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "planner_health"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3  # planner_health: could not run
    assert done.stderr.strip() == (
        "Configuration error: OPS_ALERTING_ROUTES[0].routing_key: empty; a pagerduty route "
        "needs the service's integration key."
    )
