"""Bad configuration stops start-up with a message naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from cognition.startup import EXIT_CONFIGURATION_ERROR
from tests.startup import start_with


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG: expected true or false, got 'maybe'"),
        (
            {"DEPLOY_ENVIRONMENT": "qa"},
            "DEPLOY_ENVIRONMENT: expected one of dev, staging, production",
        ),
        (
            {"DEPLOY_ENVIRONMENT": "production", "SECRET_KEY": ""},
            "SECRET_KEY: required when DEBUG is off",
        ),
        (
            {"DATABASE_URL": "nosuchdb://x/y"},
            "DATABASE_URL: expected a sqlite:// or postgres:// URL",
        ),
        ({"AGENT_BACKEND": "claude"}, "AGENT_BACKEND: expected one of scripted, openai"),
        ({"AGENT_TIMEOUT_SECONDS": "soon"}, "AGENT_TIMEOUT_SECONDS: expected a number"),
        (
            {"OPENAI_BASE_URL": "ftp://models.local"},
            "OPENAI_BASE_URL: expected an http:// or https:// URL",
        ),
        ({"PORT": "http"}, "PORT: expected a whole number, got 'http'"),
        ({"PORT": "70000"}, "PORT: must be at most 65535, got 70000"),
        ({"AGENT_MAX_CONCURRENCY": "0"}, "AGENT_MAX_CONCURRENCY: must be at least 1, got 0"),
        (
            {"AGENT_REQUESTS_PER_MINUTE": "0"},
            "AGENT_REQUESTS_PER_MINUTE: must be at least 1, got 0",
        ),
        (
            {"AGENT_TOKENS_PER_MINUTE": "-5"},
            "AGENT_TOKENS_PER_MINUTE: must be at least 1, got -5",
        ),
        ({"AGENT_TOKENS_PER_MINUTE": "lots"}, "AGENT_TOKENS_PER_MINUTE: expected a whole number"),
        ({"CELERY_BROKER_URL": "kafka://127.0.0.1"}, "CELERY_BROKER_URL: expected filesystem://"),
        ({"BACKLOG_STALE_AFTER_SECONDS": "0"}, "BACKLOG_STALE_AFTER_SECONDS: must be at least 1"),
        (
            {"BACKLOG_STALE_AFTER_SECONDS": "20"},
            "BACKLOG_STALE_AFTER_SECONDS: must be at least twice PIPELINE_HEARTBEAT_SECONDS (30), "
            "got 20",
        ),
        ({"PLANNER_QUOTAS": "{not json"}, "PLANNER_QUOTAS: not valid JSON"),
        ({"SCENE_MIN_WORDS": "0"}, "SCENE_MIN_WORDS: must be at least 1"),
        (
            {"SCENE_MIN_WORDS": "500", "SCENE_MAX_WORDS": "400"},
            "SCENE_MAX_WORDS: must be at least SCENE_MIN_WORDS (500), got 400",
        ),
        (
            {"SCENE_MAX_WORDS": "50"},
            "SCENE_MAX_WORDS: must be at least SCENE_MIN_WORDS (100), got 50",
        ),
    ],
)
def test_bad_environment_value_stops_start_up_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    result = start_with(**env)
    assert result.returncode == EXIT_CONFIGURATION_ERROR
    assert f"Configuration error: {message}" in result.stderr
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


PRINT_PUBLIC_BASE_URL = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.PUBLIC_BASE_URL)"
)


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
