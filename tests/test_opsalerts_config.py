"""Ops alerting settings: every validation rule, its message, and where it stops start-up."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError

from cognition.checks import check_configuration
from cognition.startup import EXIT_CONFIGURATION_ERROR, refuse_invalid_configuration
from opsalerts.config import load_ops_alerting_config, parse_ops_alerting, validate_ops_alerting
from tests.servers import SIGNING_SECRET

VALID_ROUTES = json.dumps(
    [
        {"match": "alert:backlog:*", "webhook_url": "https://hooks.example.test/backlog",
         "routing_key": "team-backlog"},
        {"match": "severity:error", "webhook_url": "https://hooks.example.test/pager",
         "routing_key": "pager"},
        {"match": "default", "webhook_url": "https://hooks.example.test/ops", "routing_key": "ops"},
    ]
)  # fmt: skip


@pytest.fixture
def ops(settings: Any) -> Any:
    settings.DEPLOY_ENVIRONMENT = "staging"
    settings.OPS_ALERTING_ENABLED = True
    settings.OPS_ALERTING_WEBHOOK_URL = "https://hooks.example.test/ops"
    settings.OPS_ALERTING_ROUTING_KEY = "ops"
    settings.OPS_ALERTING_SIGNING_SECRET = SIGNING_SECRET
    settings.OPS_ALERTING_DEBOUNCE_SECONDS = "300"
    settings.OPS_ALERTING_REPEAT_SECONDS = "14400"
    settings.OPS_ALERTING_SEVERITY_FILTER = ""
    settings.OPS_ALERTING_ROUTES = VALID_ROUTES
    settings.OPS_ALERTING_SLO_THRESHOLDS = '{"alert:backlog:stale": 30, "severity:error": 15}'
    settings.OPS_ALERTING_TIMEOUT_SECONDS = "10"
    settings.OPS_ALERTING_MAX_ATTEMPTS = "5"
    return settings


def codes() -> list[str]:
    return [problem.code for problem in parse_ops_alerting()[1]]


def test_valid_configuration_has_no_problems_and_parses_typed_values(ops: Any) -> None:
    assert validate_ops_alerting() == []
    config = load_ops_alerting_config()
    assert config.enabled is True
    assert config.debounce_seconds == 300
    assert [r.match for r in config.routes] == ["alert:backlog:*", "severity:error", "default"]
    assert config.slo_thresholds == {"alert:backlog:stale": 30.0, "severity:error": 15.0}
    assert config.route_for("backlog:stale", "warning").routing_key == "team-backlog"  # type: ignore[union-attr]
    assert config.route_for("planner:recent-failures", "error").routing_key == "pager"  # type: ignore[union-attr]
    assert config.route_for("planner:no-executions", "info").routing_key == "ops"  # type: ignore[union-attr]
    assert config.slo_minutes_for("backlog:stale", "warning") == 30
    assert config.slo_minutes_for("planner:recent-failures", "error") == 15
    assert config.slo_minutes_for("lore:blocked", "warning") is None


def test_disabled_alerting_without_any_webhook_is_valid(settings: Any) -> None:
    settings.OPS_ALERTING_ENABLED = False
    settings.OPS_ALERTING_WEBHOOK_URL = ""
    settings.OPS_ALERTING_ROUTES = ""
    assert validate_ops_alerting() == []


def test_enabled_without_any_webhook_url_is_refused(ops: Any) -> None:
    ops.OPS_ALERTING_WEBHOOK_URL = ""
    ops.OPS_ALERTING_ROUTES = ""
    assert validate_ops_alerting() == [
        "OPS_ALERTING_WEBHOOK_URL: OPS_ALERTING_ENABLED is true but no webhook URL is "
        "configured (set OPS_ALERTING_WEBHOOK_URL or a route in OPS_ALERTING_ROUTES)."
    ]
    assert codes() == ["opsalerts.E001"]


def test_a_route_alone_is_enough_webhook(ops: Any) -> None:
    ops.OPS_ALERTING_WEBHOOK_URL = ""
    assert validate_ops_alerting() == []


@pytest.mark.parametrize("minutes", [0, -5])
def test_slo_threshold_not_above_zero_is_refused(ops: Any, minutes: int) -> None:
    ops.OPS_ALERTING_SLO_THRESHOLDS = json.dumps({"alert:backlog:stale": minutes})
    assert validate_ops_alerting() == [
        f"OPS_ALERTING_SLO_THRESHOLDS['alert:backlog:stale']: threshold must be greater than "
        f"0 minutes, got {minutes}."
    ]
    assert codes() == ["opsalerts.E002"]


def test_slo_threshold_that_is_not_a_number_is_refused(ops: Any) -> None:
    ops.OPS_ALERTING_SLO_THRESHOLDS = '{"severity:warning": "soon"}'
    assert validate_ops_alerting() == [
        "OPS_ALERTING_SLO_THRESHOLDS['severity:warning']: expected a number of minutes, got 'soon'."
    ]


@pytest.mark.parametrize("name", ["OPS_ALERTING_DEBOUNCE_SECONDS", "OPS_ALERTING_REPEAT_SECONDS"])
def test_negative_debounce_or_repeat_is_refused(ops: Any, name: str) -> None:
    setattr(ops, name, "-1")
    assert validate_ops_alerting() == [f"{name}: must not be negative, got -1."]
    assert codes() == ["opsalerts.E003"]


@pytest.mark.parametrize("name", ["OPS_ALERTING_ROUTES", "OPS_ALERTING_SLO_THRESHOLDS"])
def test_json_that_does_not_parse_is_refused(ops: Any, name: str) -> None:
    setattr(ops, name, '[{"match": "default",')
    messages = validate_ops_alerting()
    assert len(messages) == 1
    assert messages[0].startswith(f"{name}: not valid JSON (")
    assert "opsalerts.E004" in codes()


def test_unknown_match_form_is_refused(ops: Any) -> None:
    ops.OPS_ALERTING_ROUTES = json.dumps(
        [{"match": "planner:vision", "webhook_url": "https://hooks.example.test/x"}]
    )
    assert validate_ops_alerting() == [
        "OPS_ALERTING_ROUTES[0].match: unknown match form 'planner:vision' "
        "(expected alert:<id or glob>, severity:<info|warning|error> or default)."
    ]
    assert codes() == ["opsalerts.E005"]


def test_unknown_severity_is_refused_in_routes_filter_and_slo(ops: Any) -> None:
    ops.OPS_ALERTING_ROUTES = json.dumps(
        [{"match": "severity:critical", "webhook_url": "https://hooks.example.test/x"}]
    )
    ops.OPS_ALERTING_SEVERITY_FILTER = "warning,fatal"
    ops.OPS_ALERTING_SLO_THRESHOLDS = '{"severity:page": 10}'
    assert validate_ops_alerting() == [
        "OPS_ALERTING_ROUTES[0].match: unknown severity 'critical' in 'severity:critical' "
        "(expected one of info, warning, error).",
        "OPS_ALERTING_SEVERITY_FILTER: unknown severity 'fatal' "
        "(expected a comma list of info, warning, error).",
        "OPS_ALERTING_SLO_THRESHOLDS['severity:page']: unknown severity 'page' "
        "(expected one of info, warning, error).",
    ]
    assert set(codes()) == {"opsalerts.E005"}


def test_url_that_is_not_http_is_refused(ops: Any) -> None:
    ops.OPS_ALERTING_WEBHOOK_URL = "ftp://hooks.example.test/ops"
    ops.OPS_ALERTING_ROUTES = json.dumps(
        [{"match": "default", "webhook_url": "file:///etc/passwd", "routing_key": "x"}]
    )
    assert validate_ops_alerting() == [
        "OPS_ALERTING_WEBHOOK_URL: expected an http:// or https:// URL, "
        "got 'ftp://hooks.example.test/ops'.",
        "OPS_ALERTING_ROUTES[0].webhook_url: expected an http:// or https:// URL, "
        "got 'file:///etc/passwd'.",
    ]
    assert set(codes()) == {"opsalerts.E006"}


def test_route_with_empty_webhook_url_is_refused(ops: Any) -> None:
    ops.OPS_ALERTING_ROUTES = json.dumps(
        [{"match": "alert:backlog:stale", "webhook_url": "", "routing_key": "team"}]
    )
    assert validate_ops_alerting() == [
        "OPS_ALERTING_ROUTES[0].webhook_url: empty; every route needs one."
    ]
    assert codes() == ["opsalerts.E007"]


def test_enabled_outside_dev_without_signing_secret_is_refused(ops: Any) -> None:
    ops.OPS_ALERTING_SIGNING_SECRET = ""
    assert validate_ops_alerting() == [
        "OPS_ALERTING_SIGNING_SECRET: required when OPS_ALERTING_ENABLED is true outside dev "
        "(DEPLOY_ENVIRONMENT=staging)."
    ]
    assert codes() == ["opsalerts.E008"]
    ops.DEPLOY_ENVIRONMENT = "dev"
    assert validate_ops_alerting() == []


def test_signing_secret_that_is_not_standard_webhooks_base64_is_refused(ops: Any) -> None:
    ops.OPS_ALERTING_SIGNING_SECRET = "whsec_not base64!"
    assert validate_ops_alerting() == [
        "OPS_ALERTING_SIGNING_SECRET: not a Standard Webhooks secret (expected whsec_ "
        "followed by base64 of at least 24 random bytes)."
    ]


def test_bad_numbers_are_refused_with_the_variable_named(ops: Any) -> None:
    ops.OPS_ALERTING_TIMEOUT_SECONDS = "0"
    ops.OPS_ALERTING_MAX_ATTEMPTS = "many"
    assert validate_ops_alerting() == [
        "OPS_ALERTING_TIMEOUT_SECONDS: must be greater than 0, got 0.",
        "OPS_ALERTING_MAX_ATTEMPTS: expected a whole number, got 'many'.",
    ]


def test_every_problem_is_reported_at_once(ops: Any) -> None:
    ops.OPS_ALERTING_WEBHOOK_URL = ""
    ops.OPS_ALERTING_ROUTES = "not json"
    ops.OPS_ALERTING_SLO_THRESHOLDS = '{"alert:backlog:stale": 0}'
    ops.OPS_ALERTING_DEBOUNCE_SECONDS = "-3"
    ops.OPS_ALERTING_SIGNING_SECRET = ""
    assert sorted(codes()) == [
        "opsalerts.E001",
        "opsalerts.E002",
        "opsalerts.E003",
        "opsalerts.E004",
        "opsalerts.E008",
    ]


def test_system_check_reports_errors_with_ids(ops: Any) -> None:
    ops.OPS_ALERTING_DEBOUNCE_SECONDS = "-1"
    errors = check_configuration()
    assert [(e.id, e.msg) for e in errors] == [
        ("opsalerts.E003", "OPS_ALERTING_DEBOUNCE_SECONDS: must not be negative, got -1.")
    ]
    assert all(e.is_serious() for e in errors)
    with pytest.raises(SystemCheckError, match="OPS_ALERTING_DEBOUNCE_SECONDS"):
        call_command("check")


@pytest.mark.django_db  # start-up also checks that PostgreSQL answers
def test_worker_and_beat_refuse_to_start_on_invalid_configuration(
    ops: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ops.OPS_ALERTING_REPEAT_SECONDS = "-10"
    with pytest.raises(SystemExit) as stopped:
        refuse_invalid_configuration()
    assert stopped.value.code == EXIT_CONFIGURATION_ERROR
    assert capsys.readouterr().err == (
        "Configuration error: OPS_ALERTING_REPEAT_SECONDS: must not be negative, got -10.\n"
    )
    ops.OPS_ALERTING_REPEAT_SECONDS = "600"
    refuse_invalid_configuration()  # valid: returns quietly


def test_check_command_prints_masked_configuration_and_verdict(
    ops: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("check_ops_alerting")
    out = capsys.readouterr().out
    assert "webhook_url: https://hooks.example.test/ops" in out
    assert (
        "[0] alert:backlog:* -> webhook https://hooks.example.test/backlog "
        "(routing key team-backlog)" in out
    )
    assert SIGNING_SECRET not in out
    assert "signing_secret: whsec_…(" in out
    assert "OK: Ops alerting configuration is valid." in out


def test_check_command_masks_secrets_in_webhook_urls(
    ops: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ops.OPS_ALERTING_WEBHOOK_URL = (
        "https://bot:hunter2@hooks.example.test/services/T01/B02/s3cr3tT0k3n"
    )
    ops.OPS_ALERTING_ROUTES = ""
    call_command("check_ops_alerting")
    out = capsys.readouterr().out
    assert "webhook_url: https://bot:****@hooks.example.test/services/…0k3n\n" in out
    assert "s3cr3t" not in out
    assert "hunter2" not in out


def test_check_command_exits_non_zero_and_lists_problems_when_invalid(
    ops: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ops.OPS_ALERTING_SIGNING_SECRET = ""
    ops.OPS_ALERTING_DEBOUNCE_SECONDS = "-1"
    with pytest.raises(CommandError) as failed:
        call_command("check_ops_alerting")
    assert failed.value.returncode == 1
    err = capsys.readouterr().err
    assert "INVALID: 2 problem(s)" in err
    assert "(opsalerts.E003) OPS_ALERTING_DEBOUNCE_SECONDS: must not be negative, got -1." in err
    assert "(opsalerts.E008) OPS_ALERTING_SIGNING_SECRET" in err


@pytest.mark.parametrize(
    "secret",
    [
        "hunter2",
        "whsec_abc",
        "whsec_" + base64.b64encode(b"twenty-three bytes only").decode(),
        "whsec_" + base64.b64encode(b"x" * 32).decode() + "!",
    ],
)
def test_signing_secret_must_be_whsec_and_base64_of_at_least_24_bytes(
    ops: Any, secret: str
) -> None:
    ops.OPS_ALERTING_SIGNING_SECRET = secret
    assert codes() == ["opsalerts.E010"]


@pytest.mark.parametrize(
    "secret",
    [
        SIGNING_SECRET,
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # the README's example: 24 bytes
        "whsec_" + base64.b64encode(b"y" * 64).decode(),
    ],
)
def test_standard_webhooks_secrets_of_24_bytes_or_more_are_valid(ops: Any, secret: str) -> None:
    ops.OPS_ALERTING_SIGNING_SECRET = secret
    assert validate_ops_alerting() == []


def test_repeat_shorter_than_debounce_is_refused(ops: Any) -> None:
    ops.OPS_ALERTING_REPEAT_SECONDS = "10"
    assert validate_ops_alerting() == [
        "OPS_ALERTING_REPEAT_SECONDS: must be at least OPS_ALERTING_DEBOUNCE_SECONDS (300), "
        "got 10 (0 turns repeats off)."
    ]
    assert codes() == ["opsalerts.E003"]


@pytest.mark.parametrize("repeat", ["0", "300", "14400"])
def test_repeat_off_or_at_least_debounce_is_valid(ops: Any, repeat: str) -> None:
    ops.OPS_ALERTING_REPEAT_SECONDS = repeat
    assert validate_ops_alerting() == []


def test_repeat_is_not_judged_against_a_debounce_that_was_refused(ops: Any) -> None:
    ops.OPS_ALERTING_DEBOUNCE_SECONDS = "soon"
    ops.OPS_ALERTING_REPEAT_SECONDS = "10"
    assert validate_ops_alerting() == [
        "OPS_ALERTING_DEBOUNCE_SECONDS: expected a whole number, got 'soon'."
    ]


def test_enabled_that_is_not_true_or_false_is_refused(ops: Any) -> None:
    ops.OPS_ALERTING_ENABLED = "maybe"
    assert validate_ops_alerting() == ["OPS_ALERTING_ENABLED: expected true or false, got 'maybe'."]


def test_configuration_is_parsed_once_and_again_when_a_setting_changes(ops: Any) -> None:
    first = load_ops_alerting_config()
    assert load_ops_alerting_config() is first
    ops.OPS_ALERTING_DEBOUNCE_SECONDS = "60"
    assert load_ops_alerting_config().debounce_seconds == 60
