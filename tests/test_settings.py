"""Bad configuration stops start-up with a message naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from cognition.startup import EXIT_CONFIGURATION_ERROR
from tests.startup import start_with

# Every problem is printed at once, so each case sets several bad values and expects a line for
# each; values that would hide one another (two PORTs, DEBUG off by default in production) are
# in different cases. One start-up per case: each costs a fresh interpreter.
BAD_VALUES_AT_ONCE = [
    pytest.param(
        {
            "DEBUG": "maybe",
            "DATABASE_URL": "nosuchdb://x/y",
            "AGENT_BACKEND": "claude",
            "AGENT_TIMEOUT_SECONDS": "soon",
            "OPENAI_BASE_URL": "ftp://models.local",
            "PORT": "http",
            "AGENT_MAX_CONCURRENCY": "0",
            "AGENT_REQUESTS_PER_MINUTE": "0",
            "AGENT_TOKENS_PER_MINUTE": "-5",
            "CELERY_BROKER_URL": "kafka://127.0.0.1",
            "BACKLOG_STALE_AFTER_SECONDS": "0",
            "SCENE_MIN_WORDS": "0",
        },
        [
            "DEBUG: expected true or false, got 'maybe'",
            "DATABASE_URL: expected a sqlite:// or postgres:// URL",
            "AGENT_BACKEND: expected one of scripted, openai",
            "AGENT_TIMEOUT_SECONDS: expected a number",
            "OPENAI_BASE_URL: expected an http:// or https:// URL",
            "PORT: expected a whole number, got 'http'",
            "AGENT_MAX_CONCURRENCY: must be at least 1, got 0",
            "AGENT_REQUESTS_PER_MINUTE: must be at least 1, got 0",
            "AGENT_TOKENS_PER_MINUTE: must be at least 1, got -5",
            "CELERY_BROKER_URL: expected filesystem://",
            "BACKLOG_STALE_AFTER_SECONDS: must be at least 1",
            "SCENE_MIN_WORDS: must be at least 1",
        ],
        id="dev",
    ),
    pytest.param(
        {
            "DEPLOY_ENVIRONMENT": "qa",
            "PORT": "70000",
            "AGENT_TOKENS_PER_MINUTE": "lots",
            "SCENE_MIN_WORDS": "500",
            "SCENE_MAX_WORDS": "400",
        },
        [
            "DEPLOY_ENVIRONMENT: expected one of dev, staging, production",
            "PORT: must be at most 65535, got 70000",
            "AGENT_TOKENS_PER_MINUTE: expected a whole number",
            "SCENE_MAX_WORDS: must be at least SCENE_MIN_WORDS (500), got 400",
        ],
        id="unknown-environment",
    ),
    pytest.param(
        {"DEPLOY_ENVIRONMENT": "production", "SECRET_KEY": "", "SCENE_MAX_WORDS": "50"},
        [
            "SECRET_KEY: required when DEBUG is off",
            "SCENE_MAX_WORDS: must be at least SCENE_MIN_WORDS (100), got 50",
        ],
        id="production",
    ),
    # The JSON blocks are parsed once the plain values are valid.
    pytest.param({"PLANNER_QUOTAS": "{not json"}, ["PLANNER_QUOTAS: not valid JSON"], id="json"),
]


@pytest.mark.parametrize(("env", "messages"), BAD_VALUES_AT_ONCE)
def test_bad_environment_values_stop_start_up_naming_each_variable(
    env: dict[str, str], messages: list[str]
) -> None:
    result = start_with(**env)
    assert result.returncode == EXIT_CONFIGURATION_ERROR
    lines = [line for line in result.stderr.splitlines() if line.startswith("Configuration error:")]
    assert len(lines) == len(messages), result.stderr
    for message in messages:
        assert any(line.startswith(f"Configuration error: {message}") for line in lines), message
    assert "Traceback" not in result.stderr


def test_defaults_start_in_dev_with_debug_on() -> None:
    result = start_with()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_production_starts_with_a_secret_key_and_debug_off() -> None:
    result = start_with(DEPLOY_ENVIRONMENT="production", SECRET_KEY="s3cret-for-test")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_one_value_scene_word_range_is_allowed() -> None:
    result = start_with(SCENE_MIN_WORDS="800", SCENE_MAX_WORDS="800")
    assert result.returncode == 0, result.stderr


# The settings module alone: reading a setting needs no apps loaded (about half a second less
# per start).
PRINT_PUBLIC_BASE_URL = "from django.conf import settings; print(settings.PUBLIC_BASE_URL)"


def test_public_base_url_follows_port_unless_set() -> None:
    assert start_with(PRINT_PUBLIC_BASE_URL).stdout.strip() == "http://127.0.0.1:8000"
    assert start_with(PRINT_PUBLIC_BASE_URL, PORT="8001").stdout.strip() == "http://127.0.0.1:8001"
    explicit = start_with(PRINT_PUBLIC_BASE_URL, PORT="8001", PUBLIC_BASE_URL="https://ops.test/")
    assert explicit.stdout.strip() == "https://ops.test"


PUBLISH = (
    "import django; django.setup(); from planners.tasks import sweep_stale_backlog; "
    "sweep_stale_backlog.delay()"
)


def test_publishing_on_the_default_filesystem_broker_logs_no_warning(tmp_path: Path) -> None:
    result = start_with(PUBLISH, VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "broker" / "queue").iterdir()), "the task was not published"
    assert "WARNING" not in result.stderr


def test_provider_limits_default_to_64_calls_in_flight_and_no_rate_limits() -> None:
    assert settings.AGENT_MAX_CONCURRENCY == 64
    assert settings.AGENT_REQUESTS_PER_MINUTE is None
    assert settings.AGENT_TOKENS_PER_MINUTE is None


def test_empty_rate_limit_means_unlimited() -> None:
    result = start_with(AGENT_REQUESTS_PER_MINUTE="", AGENT_TOKENS_PER_MINUTE="90000")
    assert result.returncode == 0, result.stderr
