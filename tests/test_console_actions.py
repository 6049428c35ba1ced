"""Console actions: acknowledge, silence, resume and run are CSRF-protected POSTs that change
state through the shared actions, answer HTMX with the updated card plus out-of-band counters,
and answer everyone else with a redirect to the full page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from opsalerts.models import Alert, AlertEvent, Silence
from planners.models import ActionLogEntry, BacklogStatus, Project
from tests.factories.console import ConsoleData, build_console_data

pytestmark = pytest.mark.django_db

HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def data() -> ConsoleData:
    return build_console_data()


def test_acknowledge_from_the_console_answers_htmx_with_the_card_and_counters(
    staff_client: Client, data: ConsoleData
) -> None:
    response = staff_client.post(
        reverse("console:acknowledge", args=[data.stale_alert.pk]),
        {"next": reverse("console:dashboard")},
        **HTMX,
    )
    content = response.content.decode()

    assert response.status_code == 200
    data.stale_alert.refresh_from_db()
    assert data.stale_alert.status == Alert.Status.ACKNOWLEDGED
    assert data.stale_alert.acknowledged_via == "console"
    assert data.stale_alert.acknowledged_by == "olivia"
    assert AlertEvent.objects.filter(alert=data.stale_alert, kind="acknowledged").exists()
    assert content.lstrip().startswith('<section id="card-alerts"')
    assert "Acknowledged backlog:stale." in content
    row = content.split(f'id="alert-{data.stale_alert.pk}"')[1].split("</tr>")[0]
    assert 'data-state="acknowledged"' in content.split(f'id="alert-{data.stale_alert.pk}"')[1]
    assert "Acknowledge</button>" not in row
    # One alert still firing: the nav badge and the summary strip say so, out of band.
    assert (
        '<span id="nav-firing-count" class="nav-count nav-count-firing" hx-swap-oob="true"'
        in content
    )
    assert 'id="summary-counters" class="summary" hx-swap-oob="true"' in content
    assert '<span class="summary-value" id="summary-firing">1</span>' in content


def test_acknowledge_without_javascript_redirects_to_the_page(
    staff_client: Client, data: ConsoleData
) -> None:
    response = staff_client.post(
        reverse("console:acknowledge", args=[data.failure_alert.pk]),
        {"next": reverse("console:alerts")},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("console:alerts")
    data.failure_alert.refresh_from_db()
    assert data.failure_alert.status == Alert.Status.ACKNOWLEDGED
    page = staff_client.get(response["Location"]).content.decode()
    assert "Acknowledged planner:recent-failures." in page


def test_acknowledge_ignores_an_offsite_next(staff_client: Client, data: ConsoleData) -> None:
    response = staff_client.post(
        reverse("console:acknowledge", args=[data.failure_alert.pk]),
        {"next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("console:dashboard")


def test_acknowledging_twice_says_it_was_already_acknowledged(
    staff_client: Client, data: ConsoleData
) -> None:
    url = reverse("console:acknowledge", args=[data.stale_alert.pk])
    staff_client.post(url, **HTMX)
    content = staff_client.post(url, **HTMX).content.decode()
    assert "was already acknowledged" in content


def test_console_posts_need_a_csrf_token(staff_user: Any, data: ConsoleData) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    response = client.post(reverse("console:acknowledge", args=[data.stale_alert.pk]), **HTMX)
    assert response.status_code == 403
    data.stale_alert.refresh_from_db()
    assert data.stale_alert.status == Alert.Status.FIRING


def test_actions_refuse_get(staff_client: Client, data: ConsoleData) -> None:
    response = staff_client.get(reverse("console:acknowledge", args=[data.stale_alert.pk]))
    assert response.status_code == 405


def test_silence_creates_a_silence_and_marks_matching_alerts(
    staff_client: Client, data: ConsoleData
) -> None:
    response = staff_client.post(
        reverse("console:silence"),
        {"pattern": "backlog:stale", "minutes": "60", "reason": "harbour maintenance"},
        **HTMX,
    )
    content = response.content.decode()
    silence = Silence.objects.get()
    assert silence.pattern == "backlog:stale"
    assert silence.author == "olivia"
    assert silence.reason == "harbour maintenance"
    assert round((silence.ends_at - silence.starts_at).total_seconds()) == 3600
    assert "Silenced backlog:stale until" in content
    assert 'data-state="silenced"' in content.split(f'id="alert-{data.stale_alert.pk}"')[1]


def test_silence_with_a_bad_duration_is_refused_with_a_message(
    staff_client: Client, data: ConsoleData
) -> None:
    content = staff_client.post(
        reverse("console:silence"), {"pattern": "backlog:*", "minutes": "7"}, **HTMX
    ).content.decode()
    assert "Not silenced" in content
    assert not Silence.objects.exists()


def test_resume_blocked_item_answers_with_the_backlog_card(
    staff_client: Client, data: ConsoleData
) -> None:
    response = staff_client.post(
        reverse("console:resume", args=[data.blocked.pk]),
        {"plan": str(data.plan.pk)},
        **HTMX,
    )
    content = response.content.decode()
    data.blocked.refresh_from_db()
    # Back to pending, then claimed by the scheduler: its dependency (vision) is complete.
    assert data.blocked.status == BacklogStatus.IN_PROGRESS
    assert data.blocked.transitions.filter(reason="resume", actor="olivia").exists()
    assert ActionLogEntry.objects.filter(action="resume", actor="olivia").count() == 2
    assert content.lstrip().startswith('<section id="card-backlog"')
    assert "Resumed outline-core-conflicts" in content
    assert 'id="summary-counters" class="summary" hx-swap-oob="true"' in content
    assert '<span class="summary-value" id="summary-blocked">0</span>' in content


def test_resume_of_a_complete_item_is_refused_with_the_reason(
    staff_client: Client, data: ConsoleData
) -> None:
    content = staff_client.post(
        reverse("console:resume", args=[data.vision.pk]), **HTMX
    ).content.decode()
    assert "Not resumed" in content
    assert "already complete" in content
    data.vision.refresh_from_db()
    assert data.vision.status == BacklogStatus.COMPLETE


def test_resume_without_javascript_redirects_back_to_the_table(
    staff_client: Client, data: ConsoleData
) -> None:
    target = reverse("console:dashboard") + f"?plan={data.plan.pk}#card-backlog"
    response = staff_client.post(
        reverse("console:resume", args=[data.blocked.pk]), {"next": target}
    )
    assert response.status_code == 302
    assert response["Location"] == target


@pytest.mark.usefixtures("eager_tasks")
def test_run_pipeline_runs_every_phase_and_shows_progress(
    staff_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    from planners.actions import create_plan

    project = Project.objects.create(title="The Glass Orchard")
    plan = create_plan(project, agent_backend="scripted", actor="olivia")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("console:run-pipeline", args=[plan.pk]), **HTMX)
    content = response.content.decode()

    assert response.status_code == 200
    assert content.lstrip().startswith('<section id="plan-progress"')
    assert "Queued 1 item(s): vision-plan." in content
    assert ActionLogEntry.objects.filter(action="run-pipeline", actor="olivia").exists()
    progress = staff_client.get(
        reverse("console:plan-progress", args=[plan.pk]), **HTMX
    ).content.decode()
    assert 'data-phase="vision" data-status="complete"' in progress
    assert plan.backlog_items.exclude(status=BacklogStatus.COMPLETE).count() == 0
    watched = staff_client.get(
        reverse("console:plan-progress", args=[plan.pk]), {"watch": "1"}, **HTMX
    ).content.decode()
    assert "The pipeline finished." in watched


def test_run_pipeline_without_javascript_redirects_to_the_plan(
    staff_client: Client, data: ConsoleData
) -> None:
    response = staff_client.post(reverse("console:run-pipeline", args=[data.plan.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("console:plan", args=[data.plan.pk])


def test_acknowledge_keeps_the_note_that_lets_a_rollout_wait_on_the_alert(
    staff_client: Client, data: ConsoleData
) -> None:
    page = staff_client.get(reverse("console:alerts")).content.decode()
    row = page.split(f'id="alert-{data.stale_alert.pk}"')[1].split("</tr>")[0]
    assert 'name="note" maxlength="1000"' in row
    assert 'aria-label="Note for acknowledging backlog:stale (optional)"' in row

    staff_client.post(
        reverse("console:acknowledge", args=[data.stale_alert.pk]),
        {"note": "  known slow provider, fix deploying  "},
        **HTMX,
    )
    event = AlertEvent.objects.get(alert=data.stale_alert, kind="acknowledged")
    assert event.detail == {"note": "known slow provider, fix deploying"}


def test_acknowledge_refuses_an_overlong_note_and_leaves_the_alert_firing(
    staff_client: Client, data: ConsoleData
) -> None:
    response = staff_client.post(
        reverse("console:acknowledge", args=[data.stale_alert.pk]), {"note": "x" * 1001}, **HTMX
    )
    content = response.content.decode()
    assert "Not acknowledged: Ensure this value has at most 1000 characters" in content
    data.stale_alert.refresh_from_db()
    assert data.stale_alert.status == Alert.Status.FIRING
