"""A bad configuration stops every entry point with one line per problem, exit 1, no traceback.

Each case runs the real process: ``manage.py planner_health`` (whose own codes 0, 1, 2 a cron
job reads as healthy, degraded, critical, so it exits 3, "could not run"), ``manage.py check``,
the WSGI module and a Celery worker and beat.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from cognition.startup import EXIT_CONFIGURATION_ERROR, start
from tests.servers import SIGNING_SECRET

CONFIG_PREFIXES = ("DJANGO_", "OPS_", "PLANNER_", "HEALTH_", "DATABASE_", "DEBUG", "DEPLOY_")


def run(command: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES)}
    environment.update(DJANGO_SETTINGS_MODULE="cognition.settings", VAR_DIR=str(tmp_path), **env)
    return subprocess.run(
        command,
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=90,
    )


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "manage.py", *args], tmp_path, **env)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Configuration error:")]


#: planner_health's "could not run": its 1 means degraded.
HEALTH_COULD_NOT_RUN = 3


def assert_refused(
    result: subprocess.CompletedProcess[str],
    *lines: str,
    status: int = EXIT_CONFIGURATION_ERROR,
) -> None:
    assert result.returncode == status, result.stderr
    assert error_lines(result.stderr) == [f"Configuration error: {line}" for line in lines]
    assert "Traceback" not in result.stderr


# One process per case (each is a fresh interpreter): every problem is printed at once, in the
# order the settings read them. The typed blocks (Ops alerting, quotas) are parsed once the plain
# values are valid, so they are a case of their own.
@pytest.mark.parametrize(
    ("env", "lines"),
    [
        pytest.param(
            {
                "DEBUG": "maybe",
                "DATABASE_URL": "nonsense://",
                "DEPLOY_ENVIRONMENT": "prod",
                "HEALTH_STALE_BACKLOG_SECONDS": "0",
            },
            [
                "DEPLOY_ENVIRONMENT: expected one of dev, staging, production, got 'prod'.",
                "DEBUG: expected true or false, got 'maybe'.",
                "DATABASE_URL: expected a sqlite:// or postgres:// URL, got scheme 'nonsense'.",
                "HEALTH_STALE_BACKLOG_SECONDS: must be at least 1, got 0.",
            ],
            id="plain-values",
        ),
        pytest.param(
            {
                "OPS_ALERTING_ENABLED": "maybe",
                "OPS_ALERTING_REPEAT_SECONDS": "10",
                "OPS_ALERTING_SIGNING_SECRET": "whsec_abc",
                "PLANNER_QUOTAS": "not json",
            },
            [
                "OPS_ALERTING_ENABLED: expected true or false, got 'maybe'.",
                "OPS_ALERTING_SIGNING_SECRET: not a Standard Webhooks secret (expected whsec_ "
                "followed by base64 of at least 24 random bytes).",
                "OPS_ALERTING_REPEAT_SECONDS: must be at least OPS_ALERTING_DEBOUNCE_SECONDS "
                "(300), got 10 (0 turns repeats off).",
                "PLANNER_QUOTAS: not valid JSON (Expecting value at char 0).",
            ],
            id="settings-blocks",
        ),
        pytest.param(
            {
                "OPS_ALERTING_ENABLED": "true",
                "OPS_ALERTING_MAX_ATTEMPTS": "many",
                "PLANNER_QUOTAS": '{"default": {"max_tokens": 0}}',
            },
            [
                "OPS_ALERTING_MAX_ATTEMPTS: expected a whole number, got 'many'.",
                "OPS_ALERTING_WEBHOOK_URL: OPS_ALERTING_ENABLED is true but no webhook URL is "
                "configured (set OPS_ALERTING_WEBHOOK_URL or a route in OPS_ALERTING_ROUTES).",
                "PLANNER_QUOTAS: default.max_tokens must be a positive whole number (unset means "
                "unlimited), got 0.",
            ],
            id="settings-block-values",
        ),
        pytest.param(
            {"ROLLOUT_EVIDENCE_KEY": "short", "ROLLOUT_WATCH_SECONDS": "0"},
            [
                "ROLLOUT_WATCH_SECONDS: must be at least 1, got 0.",
                "ROLLOUT_EVIDENCE_KEY: must be at least 32 characters, got 5 (make one with: "
                'python -c "import secrets; print(secrets.token_urlsafe(32))").',
            ],
            id="rollout-values",
        ),
    ],
)
def test_every_bad_value_stops_planner_health_with_one_line_each_and_exit_3(
    tmp_path: Path, env: dict[str, str], lines: list[str]
) -> None:
    result = manage(tmp_path, "planner_health", **env)
    assert_refused(result, *lines, status=HEALTH_COULD_NOT_RUN)


def test_unreachable_database_names_the_variable_and_the_connection_problem(
    tmp_path: Path,
) -> None:
    result = manage(tmp_path, "planner_health", DATABASE_URL="postgres://postgres@127.0.0.1:1/x")
    assert result.returncode == HEALTH_COULD_NOT_RUN, result.stderr
    [line] = error_lines(result.stderr)
    assert line.startswith(
        "Configuration error: DATABASE_URL: cannot connect to the database 'x' at 127.0.0.1:1 ("
    )
    assert "refused" in line.lower()
    assert "Traceback" not in result.stderr


def test_sqlite_database_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "no-such-folder" / "db.sqlite3"
    result = manage(tmp_path, "planner_health", DATABASE_URL=f"sqlite:///{path}")
    assert_refused(
        result,
        f"DATABASE_URL: the folder of the SQLite database {path} does not exist ({path.parent}).",
        status=HEALTH_COULD_NOT_RUN,
    )


@pytest.mark.parametrize(
    ("command", "table", "status"),
    [
        ("planner_health", "planners_executionrollup", HEALTH_COULD_NOT_RUN),
        ("run_pipeline", "planners_project", 1),
        ("rollout_status", "planners_environment", 1),
    ],
)
def test_a_command_on_a_database_never_migrated_says_how_to_migrate_it(
    tmp_path: Path, command: str, table: str, status: int
) -> None:
    path = tmp_path / "never-migrated.sqlite3"
    result = manage(tmp_path, command, DATABASE_URL=f"sqlite:///{path}")
    assert result.returncode == status, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"Could not read the database: no such table: {table}. ")
    assert line.endswith(
        " migrations are not applied: run `manage.py migrate` (`make run` does it on start)."
    )


def test_manage_py_check_prints_the_same_line(tmp_path: Path) -> None:
    result = manage(tmp_path, "check", OPS_ALERTING_DEBOUNCE_SECONDS="-1")
    assert_refused(result, "OPS_ALERTING_DEBOUNCE_SECONDS: must not be negative, got -1.")


def test_wsgi_application_refuses_an_invalid_ops_alerting_configuration(tmp_path: Path) -> None:
    result = run(
        [sys.executable, "-c", "import cognition.wsgi"],
        tmp_path,
        DEPLOY_ENVIRONMENT="staging",
        SECRET_KEY="s3cret-for-test",
        OPS_ALERTING_ENABLED="true",
        OPS_ALERTING_WEBHOOK_URL="https://hooks.example.test/ops",
    )
    assert_refused(
        result,
        "OPS_ALERTING_SIGNING_SECRET: required when OPS_ALERTING_ENABLED is true outside dev "
        "(DEPLOY_ENVIRONMENT=staging).",
    )


def test_wsgi_application_starts_with_a_valid_configuration(tmp_path: Path) -> None:
    result = run(
        [sys.executable, "-c", "import cognition.wsgi; print('ready')"],
        tmp_path,
        OPS_ALERTING_ENABLED="true",
        OPS_ALERTING_WEBHOOK_URL="https://hooks.example.test/ops",
        OPS_ALERTING_SIGNING_SECRET=SIGNING_SECRET,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ready"


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"OPS_ALERTING_REPEAT_SECONDS": "10"},
            "OPS_ALERTING_REPEAT_SECONDS: must be at least OPS_ALERTING_DEBOUNCE_SECONDS (300), "
            "got 10 (0 turns repeats off).",
        ),
        ({"DEBUG": "maybe"}, "DEBUG: expected true or false, got 'maybe'."),
    ],
)
@pytest.mark.parametrize("program", ["worker", "beat"])
def test_celery_refuses_to_start_at_once(
    tmp_path: Path, program: str, env: dict[str, str], line: str
) -> None:
    command = [sys.executable, "-m", "celery", "-A", "cognition", program, "--loglevel", "warning"]
    if program == "beat":
        command += ["--schedule", str(tmp_path / "beat-schedule")]
    assert_refused(run(command, tmp_path, **env), line)


def test_check_ops_alerting_still_explains_an_invalid_configuration(tmp_path: Path) -> None:
    result = manage(tmp_path, "check_ops_alerting", OPS_ALERTING_REPEAT_SECONDS="10")
    assert result.returncode == 1
    assert "INVALID: 1 problem(s)" in result.stderr
    assert "(opsalerts.E003) OPS_ALERTING_REPEAT_SECONDS: must be at least" in result.stderr


def test_starting_again_in_a_set_up_process_keeps_its_logging(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Celery's Django fixup sets Django up before the worker's start-up check: the check must
    not configure logging a second time, onto a stream that may since have closed."""
    handlers = list(logging.getLogger().handlers)
    start(reach_database=False)
    assert logging.getLogger().handlers == handlers
