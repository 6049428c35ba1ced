"""Live state over one poll per page: the page carries one polling element, and its answer
brings back every card the page shows (each with its own filters), the banner or counters and
the nav badge, all as out-of-band swaps. The plan page's poll carries its transcripts and
outputs while a run goes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from planners.models import BacklogStatus
from tests.factories.console import ConsoleData, build_console_data

pytestmark = pytest.mark.django_db

HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}
CARD_SLUGS = "alerts,backlog,telemetry,failures,planners,stale,action-log,transitions"


@pytest.fixture
def data() -> ConsoleData:
    return build_console_data()


@pytest.mark.parametrize("url_name", ["console:dashboard", "console:alerts"])
def test_a_console_page_polls_once(staff_client: Client, data: ConsoleData, url_name: str) -> None:
    content = staff_client.get(reverse(url_name)).content.decode()
    assert content.count('hx-trigger="every') == 1
    assert 'id="live-poll"' in content
    assert 'id="live-status"' in content


def test_the_poll_answers_every_card_banner_and_badge_out_of_band(
    staff_client: Client, data: ConsoleData
) -> None:
    query = {"cards": CARD_SLUGS, "banner": "1", "q-alerts": "state=resolved"}
    content = staff_client.get(reverse("console:live"), query, **HTMX).content.decode()
    for slug in CARD_SLUGS.split(","):
        assert re.search(rf'<section id="card-{slug}"[^>]*hx-swap-oob="true"', content), slug
    assert re.search(r'<section id="health-banner"[^>]*hx-swap-oob="true"', content)
    assert '<span id="nav-firing-count" class="nav-count nav-count-firing" hx-swap-oob' in content
    alerts = content.split('id="card-alerts"')[1].split("</section>")[0]
    assert set(re.findall(r'data-alert-id="([^"]+)"', alerts)) == {"template-fallback:vision"}


def test_the_alerts_page_poll_brings_its_counters(staff_client: Client, data: ConsoleData) -> None:
    query = {"cards": "alerts", "counters": "1"}
    content = staff_client.get(reverse("console:live"), query, **HTMX).content.decode()
    assert 'id="summary-counters" class="summary" hx-swap-oob="true"' in content
    assert 'id="health-banner"' not in content
    assert 'id="card-backlog"' not in content


def test_the_poll_is_only_for_htmx(staff_client: Client, data: ConsoleData) -> None:
    response = staff_client.get(reverse("console:live"))
    assert response.status_code == 302
    assert response["Location"] == reverse("console:dashboard")


def test_a_running_plans_poll_carries_its_transcripts_and_outputs(
    staff_client: Client, data: ConsoleData
) -> None:
    url = reverse("console:plan-progress", args=[data.plan.pk])
    content = staff_client.get(url, **HTMX).content.decode()
    assert content.lstrip().startswith('<section id="plan-progress"')
    assert re.search(r'<section class="card phase-card" id="phase-vision"[^>]*hx-swap-oob', content)
    assert f'id="transcript-{data.failed_transcript.pk}"' in content
    assert '<div id="plan-records" hx-swap-oob="true">' in content


def test_a_plan_at_rest_polls_its_progress_alone(staff_client: Client, data: ConsoleData) -> None:
    data.plan.backlog_items.update(status=BacklogStatus.COMPLETE)
    url = reverse("console:plan-progress", args=[data.plan.pk])
    content = staff_client.get(url, **HTMX).content.decode()
    assert 'id="phase-vision"' not in content
    assert "hx-swap-oob" not in content
