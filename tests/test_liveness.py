"""Worker and beat liveness: ``GET /healthz/workers`` and the report's ``ops:`` alerts.

The dead-man's switch: an uptime check outside the machine polls ``/healthz/workers``, so a
dead worker or a silent beat is noticed even when nothing is left to send an alert.
"""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings

from cognition.models import ProcessHeartbeat
from opsalerts.tasks import evaluate_alerts
from planners.health import build_health_report
from planners.management.commands import run_pipeline
from planners.models import BacklogItem, BacklogStatus, Plan, Project
from tests.factories.backlog import add_item, seed_templates
from tests.factories.liveness import record_process, record_workers_and_beat
from tests.worker import CeleryWorker, wait_until

pytestmark = pytest.mark.django_db


def test_no_worker_and_no_beat_is_unavailable_and_critical(
    client: Client, nothing_alive: None
) -> None:
    response = client.get("/healthz/workers")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["workers_alive"] == 0
    assert body["beat_alive"] is False
    assert body["beat"] is None
    report = build_health_report()
    assert report.status == "critical"
    workers_down = report.alert("ops:workers-down")
    assert workers_down is not None
    assert workers_down.severity == "error"
    assert "none has a heartbeat on record" in workers_down.description
    assert report.alert("ops:beat-silent") is not None


def test_workers_and_beat_seen_recently_answer_200_with_what_was_seen(
    client: Client, nothing_alive: None
) -> None:
    record_workers_and_beat(seen_ago=timedelta(seconds=40))

    response = client.get("/healthz/workers")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["workers_alive"] == 2
    assert {(w["host"], tuple(w["queues"])) for w in body["workers"]} == {
        ("housekeeping@ops-1", ("celery",)),
        ("phases@ops-1", ("phases",)),
    }
    assert body["beat"]["host"] == "ops-1"
    assert "no-cache" in response["Cache-Control"]
    report = build_health_report()
    assert report.alert("ops:workers-down") is None
    assert report.alert("ops:beat-silent") is None


def test_a_worker_silent_for_three_intervals_is_down(client: Client, nothing_alive: None) -> None:
    # 15 s intervals by default: 45 s without a heartbeat is down.
    record_workers_and_beat(seen_ago=timedelta(seconds=46))

    response = client.get("/healthz/workers")

    assert response.status_code == 503
    assert response.json()["workers_alive"] == 0
    assert [w["alive"] for w in response.json()["workers"]] == [False, False]
    report = build_health_report()
    workers_down = report.alert("ops:workers-down")
    assert workers_down is not None
    assert "the last one was seen 46 s ago" in workers_down.description


def test_beat_silent_with_workers_alive_is_unavailable(client: Client, nothing_alive: None) -> None:
    record_process()
    record_process(ProcessHeartbeat.Kind.BEAT, host="ops-1", seen_ago=timedelta(minutes=5))

    response = client.get("/healthz/workers")

    assert response.status_code == 503
    assert response.json()["workers_alive"] == 1
    assert response.json()["beat_alive"] is False
    report = build_health_report()
    assert report.alert("ops:workers-down") is None
    beat_silent = report.alert("ops:beat-silent")
    assert beat_silent is not None
    assert "last seen 5 min ago" in beat_silent.description
    assert report.status == "critical"


def test_console_banner_is_not_healthy_with_no_worker(
    staff_client: Client, nothing_alive: None
) -> None:
    record_process(ProcessHeartbeat.Kind.BEAT, host="ops-1")

    banner = staff_client.get(reverse("console:health"), HTTP_HX_REQUEST="true").content.decode()

    assert "health-critical" in banner
    assert "healthy" not in banner
    assert "no worker online" in banner
    assert "beat seen <time" in banner


def test_console_banner_counts_the_workers_alive(staff_client: Client) -> None:
    banner = staff_client.get(reverse("console:health"), HTTP_HX_REQUEST="true").content.decode()

    liveness = banner.split('id="liveness">')[1].split("</p>")[0]
    assert " ".join(re.sub(r"<[^>]+>", "", liveness).split()).startswith(
        "2 workers online · beat seen just now"
    )


def test_console_banner_says_when_alerts_were_last_evaluated(
    staff_client: Client, settings: Settings
) -> None:
    def liveness_line() -> str:
        banner = staff_client.get(reverse("console:health"), HTTP_HX_REQUEST="true")
        line = banner.content.decode().split('id="liveness">')[1].split("</p>")[0]
        return " ".join(re.sub(r"<[^>]+>", "", line).split())

    assert "alerts not evaluated yet" in liveness_line()

    settings.OPS_ALERTING_ENABLED = False  # the evaluation runs; nothing is sent anywhere
    evaluate_alerts.apply()

    assert "beat seen just now · alerts evaluated just now" in liveness_line()
    body = Client().get("/healthz/workers").json()
    assert body["alerts_evaluated_at"] is not None
    assert body["workers_alive"] == 2  # the evaluation's record is not a worker


def _planner_health() -> tuple[int, str]:
    out = StringIO()
    with pytest.raises(SystemExit) as stopped:
        call_command("planner_health", stdout=out, stderr=StringIO(), no_color=True)
    return int(stopped.value.code or 0), out.getvalue()


def test_planner_health_is_critical_with_no_worker(nothing_alive: None) -> None:
    seed_templates()
    record_process(ProcessHeartbeat.Kind.BEAT, host="ops-1")

    code, out = _planner_health()

    assert code == 2
    assert "ERROR   ops:workers-down: No Celery worker is alive" in out
    assert "Workers: none alive; beat alive, last seen 0 s ago" in out


def test_planner_health_lists_the_workers_alive() -> None:
    seed_templates()

    code, out = _planner_health()

    assert code == 0
    assert "Workers: 2 alive (celery, phases); beat alive" in out


def _plan_with_a_phase_in_flight() -> Plan:
    """A plan whose vision phase runs on its second attempt, so nothing new is queued."""
    title = "The Lantern Keeper"
    plan = Plan.objects.create(project=Project.objects.create(title=title), name=title)
    item = add_item(plan, "vision-1", status=BacklogStatus.IN_PROGRESS, phase="vision")
    BacklogItem.objects.filter(pk=item.pk).update(
        attempts=2, heartbeat_at=timezone.now(), last_error="agent answered 503"
    )
    return plan


#: Seconds without progress before ``run_pipeline --wait`` says what it waits for (10 in use):
#: the note is the same after one second, and each test waits out the whole ``--timeout``.
WAITING_NOTE_AFTER = 1.0
#: Long enough for the note (checked every ``--poll`` seconds), short enough to wait out.
WAIT_TIMEOUT = 2.0


@pytest.fixture
def waiting_note_after_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_pipeline, "WAITING_NOTE_AFTER", WAITING_NOTE_AFTER)


def _wait_for(plan: Plan) -> str:
    err = StringIO()
    with pytest.raises(CommandError) as timed_out:
        call_command(
            "run_pipeline",
            *("--plan", str(plan.pk), "--wait", "--timeout", str(WAIT_TIMEOUT), "--poll", "0.1"),
            stderr=err,
        )
    assert timed_out.value.returncode == 2
    return err.getvalue()


def test_run_pipeline_wait_says_no_worker_is_alive_when_none_is(
    nothing_alive: None, waiting_note_after_a_second: None
) -> None:
    record_process(seen_ago=timedelta(minutes=10))

    said = _wait_for(_plan_with_a_phase_in_flight())

    note = re.search(r"No worker is alive \(the last was seen (\d+)s ago", said)
    assert note is not None, said
    # Counted when the note is written: 600 s before the wait, and the wait's time since.
    assert 600 + WAITING_NOTE_AFTER <= int(note[1]) <= 600 + WAIT_TIMEOUT + 1


def test_run_pipeline_wait_shows_the_phase_in_flight_when_workers_are_alive(
    waiting_note_after_a_second: None,
) -> None:
    said = _wait_for(_plan_with_a_phase_in_flight())

    assert "No worker is alive" not in said
    assert "Waiting: 2 worker(s) alive; in flight:" in said
    assert "vision vision-1: attempt 2, 1 retry (at most 5), heartbeat" in said
    assert "last error: agent answered 503" in said


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_and_beat_are_seen_and_a_killed_one_is_not(
    client: Client, celery_worker: CeleryWorker, nothing_alive: None, settings: Settings
) -> None:
    settings.LIVENESS_INTERVAL_SECONDS = 1
    celery_worker.start({"LIVENESS_INTERVAL_SECONDS": "1"}, beat=True)

    wait_until(
        lambda: client.get("/healthz/workers").status_code == 200,
        timeout=20,
        what="the worker and beat to be seen",
    )
    body = client.get("/healthz/workers").json()
    assert body["workers_alive"] == 1
    assert body["workers"][0]["queues"] == ["celery", "phases"]

    celery_worker.kill()

    def seen_dead() -> dict[str, object] | None:
        response = client.get("/healthz/workers")
        body = response.json()
        dead = response.status_code == 503 and not body["workers_alive"] and not body["beat_alive"]
        return body if dead else None

    body = wait_until(seen_dead, timeout=10, what="the killed worker and beat to be seen as down")
    assert [w["alive"] for w in body["workers"]] == [False]
    assert build_health_report().alert("ops:workers-down") is not None
