"""Command arguments are checked before use: one line naming the argument, nothing touched."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError

from cognition.command_arguments import MAX_RECORD_ID
from opsalerts.models import Alert
from planners.models import BacklogItem, Plan

pytestmark = pytest.mark.django_db

HUGE = "9" * 30


def test_resume_backlog_with_a_huge_plan_id_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "resume_backlog", HUGE, "vision-plan"],
        cwd=settings.BASE_DIR,
        env={
            "PATH": "/usr/bin:/bin",
            "VAR_DIR": str(tmp_path),
            "PYTHONPATH": str(settings.BASE_DIR),
        },
        capture_output=True,
        text=True,
        timeout=90,
    )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"CommandError: PLAN must be between 1 and {MAX_RECORD_ID}, got '{HUGE}'."
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["0", "vision-plan"], "PLAN must be between 1 and"),
        (["-3", "vision-plan"], "PLAN must be between 1 and"),
        (["seven", "vision-plan"], "PLAN must be a whole number, got 'seven'."),
        (["1", "x" * 201], "BACKLOG_ID must be at most 200 characters, got 201."),
    ],
)
def test_resume_backlog_refuses_bad_ids(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("resume_backlog", *args)


def test_run_pipeline_refuses_a_plan_id_out_of_range_and_creates_nothing() -> None:
    with pytest.raises(CommandError, match=r"--plan must be between 1 and \d+, got '9{30}'\."):
        call_command("run_pipeline", "--plan", HUGE, stdout=StringIO())

    assert not Plan.objects.exists()


def test_planner_health_refuses_a_huge_plan_id_with_exit_3() -> None:
    err = StringIO()
    with pytest.raises(SystemExit) as stopped:
        call_command("planner_health", "--plan", HUGE, stdout=StringIO(), stderr=err)

    assert stopped.value.code == 3
    assert err.getvalue().strip() == f"--plan must be between 1 and {MAX_RECORD_ID}, got '{HUGE}'."


def _from_the_command_line(*argv: str) -> None:
    """Run a command as ``manage.py`` does, so argparse's usage errors exit as they do there."""
    name = argv[0]
    load_command_class(get_commands()[name], name).run_from_argv(["manage.py", *argv])


@pytest.mark.parametrize(
    ("argv", "refused"),
    [
        (
            ["--wait", "--timeout", "-5"],
            "argument --timeout: must be a number of seconds above 0, got '-5'",
        ),
        (
            ["--wait", "--timeout", "0"],
            "argument --timeout: must be a number of seconds above 0, got '0'",
        ),
        (
            ["--wait", "--timeout", "nan"],
            "argument --timeout: must be a number of seconds above 0, got 'nan'",
        ),
        (
            ["--wait", "--timeout", "soon"],
            "argument --timeout: must be a number of seconds, got 'soon'",
        ),
        (
            ["--wait", "--poll", "-1"],
            "argument --poll: must be a number of seconds above 0, got '-1'",
        ),
    ],
)
def test_run_pipeline_refuses_a_wait_that_is_not_positive_before_queueing_anything(
    argv: list[str], refused: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        _from_the_command_line("run_pipeline", *argv)

    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"manage.py run_pipeline: error: {refused}"
    )
    assert not Plan.objects.exists()


@pytest.mark.parametrize("seconds", ["-5", "0"])
def test_trigger_synthetic_alert_refuses_a_wait_that_is_not_positive_before_firing(
    seconds: str, alerting: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        _from_the_command_line(
            "trigger_synthetic_alert", "--planner", "vision", "--wait-ack", seconds
        )

    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "manage.py trigger_synthetic_alert: error: argument --wait-ack: "
        f"must be a number of seconds above 0, got '{seconds}'"
    )
    assert not Alert.objects.exists()
    assert not BacklogItem.objects.filter(synthetic=True).exists()


def test_rollout_gate_refuses_a_negative_wait(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        _from_the_command_line("rollout_gate", "vision", "dev", "--wait", "-3")

    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "manage.py rollout_gate: error: argument --wait: "
        "must be a number of seconds above 0, got '-3'"
    )
