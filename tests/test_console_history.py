"""Transitions and the action log page through their whole history on their own pages, with
filters in the URL; the dashboard shows the latest and links there."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from planners.console.cards.history import HISTORY_PAGE
from planners.models import ActionLogEntry
from tests.factories.console import ConsoleData, add_transitions, build_console_data

pytestmark = pytest.mark.django_db

HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def data() -> ConsoleData:
    built = build_console_data()
    add_transitions(built, count=60)
    ActionLogEntry.objects.bulk_create(
        ActionLogEntry(action="resume", actor=f"oncall-{n % 3}", target=f"item {n}")
        for n in range(40)
    )
    return built


def test_the_dashboard_links_to_the_full_history(staff_client: Client, data: ConsoleData) -> None:
    content = staff_client.get(reverse("console:dashboard")).content.decode()
    transitions = content.split('id="card-transitions"')[1].split("</section>")[0]
    assert f'href="{reverse("console:card", args=["transitions"])}">Full history' in transitions
    assert 'rel="next"' not in transitions


def test_transitions_page_through_their_whole_history(
    staff_client: Client, data: ConsoleData
) -> None:
    url = reverse("console:card", args=["transitions"])
    reasons: list[str] = []
    page = 1
    while True:
        content = staff_client.get(url, {"page": page}).content.decode()
        reasons += [r for r in content.split('<td class="mono small">')[1:]]
        if 'rel="next"' not in content:
            break
        assert f'hx-get="{url}?page={page + 1}"' in content
        assert 'hx-push-url="true"' in content
        page += 1
    assert page == 3  # 61 transitions, HISTORY_PAGE (25) a page
    assert len(reasons) == 61


def test_history_filters_stay_in_the_url(staff_client: Client, data: ConsoleData) -> None:
    url = reverse("console:card", args=["transitions"])
    content = staff_client.get(url, {"to": "pending"}, **HTMX).content.decode()
    assert content.count("flap-") == HISTORY_PAGE  # 30 in all: a full first page
    assert "phase-blocked" not in content
    assert 'data-live-query="to=pending"' in content
    assert f'href="{url}?to=pending&amp;page=2"' in content


def test_action_log_filters_by_actor(staff_client: Client, data: ConsoleData) -> None:
    url = reverse("console:card", args=["action-log"])
    content = staff_client.get(url, {"actor": "oncall-1"}).content.decode()
    rows = content.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.count("<tr>") == 13
    assert "oncall-2" not in rows
