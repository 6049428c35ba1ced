"""The console's rough edges, smoothed: attempt kinds named for what happened, metadata as
formatted JSON, no lock column on the plan page, "just now", branded error pages and an admin
that names the product."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.views.defaults import server_error

from planners.console.template_filters import ago
from planners.fiction.phases import Phase
from planners.models import PhaseCheckpoint, PhaseTranscript
from tests.factories.console import ConsoleData, build_console_data

pytestmark = pytest.mark.django_db

Outcome = PhaseTranscript.Outcome


@pytest.fixture
def data() -> ConsoleData:
    return build_console_data()


def _attempt(data: ConsoleData, attempt: int, outcome: str, **metadata: Any) -> PhaseTranscript:
    return PhaseTranscript.objects.create(
        plan=data.plan,
        phase=Phase.ITERATIVE,
        backlog_item=data.blocked,
        attempt=attempt,
        is_retry=attempt > 1,
        outcome=outcome,
        metadata={"backlogItemId": data.blocked.backlog_id, **metadata},
    )


def test_each_attempt_is_labelled_with_what_happened(
    staff_client: Client, data: ConsoleData
) -> None:
    attempts = {
        "reply": _attempt(data, 3, Outcome.FAILED, attemptKind="reply"),
        "repair": _attempt(data, 4, Outcome.PASSED, attemptKind="repair"),
        "network retry": _attempt(
            data, 5, Outcome.ERROR, error="network error talking to api.example.test: Timeout"
        ),
        "rate-limited": _attempt(
            data, 6, Outcome.ERROR, error="HTTP 429 from api.example.test", statusCode=429
        ),
        "agent error": _attempt(data, 7, Outcome.ERROR, error="HTTP 401 from api", statusCode=401),
        "interrupted": _attempt(data, 8, Outcome.INTERRUPTED),
    }
    content = staff_client.get(reverse("console:plan", args=[data.plan.pk])).content.decode()
    for label, transcript in attempts.items():
        row = content.split(f'id="transcript-{transcript.pk}"')[1].split("</summary>")[0]
        assert f'data-attempt-kind="{label}"' in row, label
        assert f'<span class="tag tag-kind">{label}</span>' in row, label
    # An attempt that got no reply shows how it ended, not validation "unknown".
    interrupted = content.split(f'id="transcript-{attempts["interrupted"].pk}"')[1]
    assert "badge-interrupted" in interrupted.split("</summary>")[0]
    assert "badge-unknown" not in interrupted.split("</summary>")[0]


def test_no_link_sits_inside_a_transcripts_summary(staff_client: Client, data: ConsoleData) -> None:
    content = staff_client.get(reverse("console:plan", args=[data.plan.pk])).content.decode()
    summary = content.split(f'id="transcript-{data.failed_transcript.pk}"')[1].split("</summary>")
    assert "<a " not in summary[0]
    assert f'href="/transcripts/{data.failed_transcript.pk}/"' in summary[1]


def test_transcript_metadata_is_formatted_json(staff_client: Client, data: ConsoleData) -> None:
    PhaseTranscript.objects.filter(pk=data.failed_transcript.pk).update(
        metadata={"phase": "iterative", "backlogItemId": "outline-core-conflicts"}
    )
    url = reverse("console:transcript", args=[data.failed_transcript.pk])
    content = staff_client.get(url).content.decode()
    assert "{\n  &quot;backlogItemId&quot;: &quot;outline-core-conflicts&quot;," in content
    assert "{&#x27;" not in content  # not a Python dict


def test_the_plan_page_has_no_lock_column(staff_client: Client, data: ConsoleData) -> None:
    PhaseCheckpoint.objects.update(lock_owner="0b6f4a4e-3c55-4bd2-9c1d-6a4f0b1f0e11")
    content = staff_client.get(reverse("console:plan", args=[data.plan.pk])).content.decode()
    assert "0b6f4a4e-3c55-4bd2-9c1d-6a4f0b1f0e11" not in content
    assert ">Lock<" not in content


def test_times_under_a_minute_read_just_now() -> None:
    now = timezone.now()
    assert ago(now - timedelta(seconds=20)) == "just now"
    assert ago(now - timedelta(minutes=5, seconds=3)) == "5\xa0minutes ago"


def test_unknown_pages_are_branded_404s(staff_client: Client) -> None:
    response = staff_client.get("/no-such-page/")
    assert response.status_code == 404
    content = response.content.decode()
    assert "There is no page here" in content
    assert 'class="topbar"' in content


def test_non_staff_get_a_branded_403(client: Client, plain_user: Any) -> None:
    client.force_login(plain_user)
    response = client.get(reverse("console:dashboard"))
    assert response.status_code == 403
    assert "This is not yours to open" in response.content.decode()


def test_server_errors_get_a_branded_500(client: Client) -> None:
    response = server_error(client.get("/").wsgi_request)
    assert response.status_code == 500
    assert "The console failed to answer" in response.content.decode()


def test_the_admin_names_the_product(staff_client: Client, staff_user: Any) -> None:
    staff_user.is_superuser = True
    staff_user.save()
    content = staff_client.get(reverse("admin:index")).content.decode()
    assert "Planner Ops Console administration" in content
    assert "Django administration" not in content
    assert "Plan passes" in content


def test_no_template_comment_leaks_onto_a_page(staff_client: Client, data: ConsoleData) -> None:
    for url in (reverse("console:plan", args=[data.plan.pk]), reverse("console:dashboard")):
        content = staff_client.get(url).content.decode()
        assert "{#" not in content, url
