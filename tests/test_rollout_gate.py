"""The rollout gate a deploy pipeline waits on: ``GET /api/rollouts/<planner>/<environment>/gate``
and ``manage.py rollout_gate``; the runbook the checklists link to."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from cognition.api_auth import create_api_token
from planners.models.rollout import RolloutWatch
from planners.rollouts import runbook
from planners.rollouts.actions import get_or_create_checklist
from planners.rollouts.tasks import record_ended_watches as record_ended_watches_task
from planners.rollouts.watch import record_ended_watches
from tests.factories.rollouts import PLANNER, pass_watch, run_vision_scripted, signed_off_dev

pytestmark = pytest.mark.django_db

URL = "/api/rollouts/vision/dev/gate"


@pytest.fixture
def bearer(staff_user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_token(staff_user)[1]}"}


def test_gate_needs_a_staff_token(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_required"


def test_unknown_planner_or_environment_is_404_json(client: Client, bearer: dict[str, str]) -> None:
    planner = client.get("/api/rollouts/visoin/dev/gate", headers=bearer)
    assert planner.status_code == 404
    assert planner.json()["error"] == "unknown_planner"
    environment = client.get("/api/rollouts/vision/qa/gate", headers=bearer)
    assert environment.status_code == 404
    assert environment.json()["error"] == "unknown_environment"


def test_gate_is_closed_before_a_checklist_exists(client: Client, bearer: dict[str, str]) -> None:
    gate = client.get(URL, headers=bearer).json()

    assert (gate["planner"], gate["environment"]) == ("vision", "dev")
    assert (gate["ok"], gate["inconclusive"], gate["signed_off"]) == (False, False, False)
    assert gate["watch"]["state"] == "not-started"
    assert gate["checks"][-1]["key"] == "watch"


def test_gate_opens_only_once_signed_off_and_the_watch_passed(
    client: Client, bearer: dict[str, str], staff_user: User, settings: Any
) -> None:
    dev = signed_off_dev(staff_user, settings)
    watching = client.get(URL, headers=bearer).json()
    assert (watching["ok"], watching["signed_off"]) == (False, True)
    assert watching["watch"]["state"] == "watching"
    assert watching["watch"]["ends_at"].endswith("Z")
    statuses = {c["key"]: c["status"] for c in watching["checks"]}
    assert statuses["synthetic-alert"] == "passed"
    assert statuses["watch"] == "pending"
    assert {c["status"] for c in watching["checks"]} <= {
        "passed",
        "failed",
        "waived",
        "pending",
        "inconclusive",
    }

    pass_watch(dev)

    gate = client.get(URL, headers=bearer).json()
    assert (gate["ok"], gate["watch"]["state"]) == (True, "passed")
    assert gate["watch"]["runs"] == 3


def test_rollout_gate_command_exit_codes(staff_user: User, settings: Any) -> None:
    def gate() -> tuple[int, str]:
        out, err = StringIO(), StringIO()
        try:
            call_command("rollout_gate", PLANNER, "dev", stdout=out, stderr=err)
        except SystemExit as stopped:
            return int(stopped.code or 0), err.getvalue()
        return 0, err.getvalue()

    code, verdict = gate()
    assert code == 1
    assert verdict.startswith("Gate closed: vision / dev: no checklist")
    get_or_create_checklist(PLANNER, "dev")
    code, verdict = gate()
    assert code == 1
    assert "by the target channel, Webhook payload" in verdict  # titles lose their full stop
    assert verdict.rstrip().endswith(".")
    assert ".." not in verdict
    dev = signed_off_dev(staff_user, settings)
    watch = RolloutWatch.objects.get(checklist=dev)
    assert record_ended_watches(now=watch.ends_at + timedelta(seconds=1)) == 1  # no runs
    assert gate() == (
        2,
        "Gate inconclusive: vision / dev: inconclusive: 0 runs, 0 failed, "
        "0 alerts; at least 3 runs are needed.\n",
    )


def test_rollout_gate_command_passes_when_the_watch_passed(staff_user: User, settings: Any) -> None:
    pass_watch(signed_off_dev(staff_user, settings))
    out = StringIO()
    call_command("rollout_gate", PLANNER, "dev", "--wait", "5", stdout=out, stderr=StringIO())
    assert '"ok": true' in out.getvalue()


def test_rollout_gate_command_refuses_an_unknown_environment() -> None:
    with pytest.raises(CommandError, match="Unknown environment 'qa'"):
        call_command("rollout_gate", PLANNER, "qa", stdout=StringIO())


def test_every_checklist_section_is_a_heading_of_the_shipped_runbook() -> None:
    text = (django_settings.BASE_DIR / runbook.RUNBOOK_PATH).read_text(encoding="utf-8")
    headings = {runbook.heading_anchor(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}
    sections = {item.section for item in runbook.RUNBOOK_ITEMS}
    sections |= {runbook.WATCH, runbook.FOLLOW_UPS}
    missing = {s for s in sections if runbook.heading_anchor(s) not in headings}
    assert not missing


def test_the_console_serves_the_runbook(staff_client: Client) -> None:
    response = staff_client.get("/rollouts/runbook.md")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    assert "## 4 Watch period" in response.content.decode()


def test_beat_records_the_result_of_an_ended_watch(staff_user: User, settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["record-rollout-watches"]
    assert entry["task"] == record_ended_watches_task.name
    dev = signed_off_dev(staff_user, settings)
    for _ in range(3):
        run_vision_scripted()
    assert record_ended_watches_task.apply().get() == 0  # still watching

    RolloutWatch.objects.filter(checklist=dev).update(ends_at=timezone.now())
    assert record_ended_watches_task.apply().get() == 1

    watch = RolloutWatch.objects.get(checklist=dev)
    assert (watch.result, watch.runs, watch.failures) == ("passed", 3, 0)
    assert watch.recorded_at is not None
