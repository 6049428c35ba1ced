"""The Backlog Telemetry console's pages and card partials: who may see them, what they show,
HTMX fragments versus whole pages, and query counts that do not grow with the backlog."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from opsalerts.models import Alert, Silence
from planners.console.cards.backlog import BacklogFilterForm, BacklogFilters, backlog_page
from planners.console.cards.plans import plans_with_counts
from planners.fiction.phases import Phase
from planners.health import build_health_report
from planners.models import (
    BacklogItem,
    BacklogStatus,
    Plan,
    Project,
)
from planners.pipeline.unproduced_inputs import refresh_unproduced_inputs
from tests.factories.console import (
    ConsoleData,
    add_backlog_items,
    add_repeated_failures,
    build_console_data,
)

pytestmark = pytest.mark.django_db

HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def data() -> ConsoleData:
    return build_console_data()


def page_urls(data: ConsoleData) -> list[str]:
    return [
        reverse("console:dashboard"),
        reverse("console:alerts"),
        reverse("console:plans"),
        reverse("console:plan", args=[data.plan.pk]),
        reverse("console:transcript", args=[data.failed_transcript.pk]),
    ]


def partial_urls(data: ConsoleData) -> list[str]:
    return [
        reverse("console:health"),
        reverse("console:plan-progress", args=[data.plan.pk]),
        *(reverse("console:card", args=[slug]) for slug in CARD_SLUGS),
    ]


CARD_SLUGS = (
    "alerts",
    "planners",
    "backlog",
    "stale",
    "transitions",
    "action-log",
    "telemetry",
    "failures",
)


# --- access -----------------------------------------------------------------------------------


def test_root_redirects_to_the_dashboard(staff_client: Client) -> None:
    response = staff_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("console:dashboard")


def test_anonymous_visitors_are_sent_to_login(client: Client, data: ConsoleData) -> None:
    for url in page_urls(data) + partial_urls(data):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login") + "?next="), url


def test_anonymous_htmx_poll_redirects_the_whole_page_to_login(
    client: Client, data: ConsoleData
) -> None:
    response = client.get(
        reverse("console:card", args=["alerts"]),
        HTTP_HX_CURRENT_URL="http://testserver/operations/backlog-telemetry/",
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/accounts/login/?next=/operations/backlog-telemetry/"


def test_non_staff_users_get_403_everywhere(
    client: Client, plain_user: Any, data: ConsoleData
) -> None:
    client.force_login(plain_user)
    for url in page_urls(data) + partial_urls(data):
        assert client.get(url).status_code == 403, url
    post_urls = [
        reverse("console:acknowledge", args=[data.stale_alert.pk]),
        reverse("console:silence"),
        reverse("console:resume", args=[data.blocked.pk]),
        reverse("console:run-pipeline", args=[data.plan.pk]),
    ]
    for url in post_urls:
        assert client.post(url).status_code == 403, url
    data.stale_alert.refresh_from_db()
    assert data.stale_alert.status == Alert.Status.FIRING


def test_login_page_is_styled_and_labelled(client: Client) -> None:
    response = client.get(reverse("login"))
    content = response.content.decode()
    assert response.status_code == 200
    assert "console.css" in content
    assert '<label for="id_username">Username</label>' in content
    assert '<label for="id_password">Password</label>' in content


def test_staff_login_lands_on_the_dashboard(client: Client, staff_user: Any) -> None:
    response = client.post(
        reverse("login"),
        {"username": "olivia", "password": "ops-console-pass", "next": ""},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("console:dashboard")
    assert b"Backlog Telemetry" in response.content


# --- pages ------------------------------------------------------------------------------------


def test_dashboard_shows_every_card_with_its_data(staff_client: Client, data: ConsoleData) -> None:
    response = staff_client.get(reverse("console:dashboard"))
    content = response.content.decode()
    assert response.status_code == 200
    assert 'hx-headers=\'{"X-CSRFToken": "' in content
    assert "django_htmx/htmx-2" in content  # htmx served by django-htmx, no CDN
    assert "cdn" not in content.lower()
    for slug in CARD_SLUGS:
        assert f'id="card-{slug}"' in content
        assert 'hx-trigger="every 15s' in content
    assert 'id="health-banner"' in content
    assert "Health report generated" in content
    assert "1 backlog item is stale" in content  # alerts card
    assert "outline-core-conflicts" in content  # backlog table
    assert "scroll-harbour-night" in content  # stale card
    assert "harbour-map" in content  # orphaned: nothing produces it
    assert "phase-blocked" in content  # recent transitions
    assert "Validation failed after repair" in content  # recent failures
    assert reverse("console:transcript", args=[data.failed_transcript.pk]) in content
    assert 'data-chart="runs"' in content
    assert 'data-chart="latency"' in content
    assert "Runs and failures, last 24 h" in content
    assert "Vision Planner" in content  # planners & templates


def test_status_is_shown_by_text_and_colour(staff_client: Client, data: ConsoleData) -> None:
    content = staff_client.get(reverse("console:dashboard")).content.decode()
    assert 'class="badge badge-firing"' in content
    assert "</span> firing</span>" in content
    assert 'class="badge badge-blocked"' in content
    assert "</span> blocked</span>" in content


def hx_get_links(content: str) -> list[str]:
    """Every ``<a>`` tag in ``content`` that carries ``hx-get``."""
    return [tag for tag in re.findall(r"<a\s[^>]*>", content) if "hx-get=" in tag]


def test_every_hx_get_link_keeps_a_real_href(
    staff_client: Client, data: ConsoleData, settings: Any
) -> None:
    """Without JavaScript each link still leads somewhere: a whole page, not a fragment."""
    settings.CONSOLE_PAGE_SIZE = 2  # the backlog card gets its "Next" link too
    hrefs: set[str] = set()
    for url in (reverse("console:dashboard"), reverse("console:alerts")):
        links = hx_get_links(staff_client.get(url).content.decode())
        assert links, f"{url} has no hx-get links to check"
        for tag in links:
            href = re.search(r'\shref="(/[^"]*)"', tag)
            assert href is not None, tag
            hrefs.add(html.unescape(href.group(1)).split("#", 1)[0])
    assert reverse("console:card", args=["backlog"]) in hrefs
    assert f"{reverse('console:dashboard')}?page=2" in hrefs

    for target in sorted(hrefs):
        response = staff_client.get(target)
        assert response.status_code == 200, target
        assert "<html" in response.content.decode(), f"{target} answers with a fragment"


def test_resume_is_offered_only_where_it_applies(staff_client: Client, data: ConsoleData) -> None:
    content = staff_client.get(
        reverse("console:card", args=["backlog"]), {"plan": data.plan.pk}, **HTMX
    ).content.decode()
    blocked_row = content.split(f'id="backlog-{data.blocked.pk}"')[1].split("</tr>")[0]
    assert 'aria-label="Resume outline-core-conflicts">Resume</button>' in blocked_row
    vision_row = content.split(f'id="backlog-{data.vision.pk}"')[1].split("</tr>")[0]
    assert "Resume" not in vision_row
    assert "nothing to resume" not in content


def test_backlog_lists_what_needs_a_person_first(staff_client: Client, data: ConsoleData) -> None:
    content = staff_client.get(
        reverse("console:card", args=["backlog"]), {"plan": data.plan.pk}, **HTMX
    ).content.decode()
    statuses = re.findall(
        r'<tr id="backlog-\d+" data-backlog-id="[^"]+" data-status="(\w+)"', content
    )
    assert statuses == ["blocked", "in_progress", "pending", "complete"]


def test_backlog_pages_keep_the_order_across_its_parts(
    staff_client: Client, data: ConsoleData, settings: Any
) -> None:
    """Two items a page: the pages together list every item once, in the table's order."""
    settings.CONSOLE_PAGE_SIZE = 2
    url = reverse("console:card", args=["backlog"])
    pages = [
        re.findall(
            r'<tr id="backlog-\d+" data-backlog-id="[^"]+" data-status="(\w+)"',
            staff_client.get(url, {"plan": data.plan.pk, "page": n}, **HTMX).content.decode(),
        )
        for n in (1, 2)
    ]
    assert pages == [["blocked", "in_progress"], ["pending", "complete"]]


def test_backlog_plan_table_puts_plans_needing_a_person_first_and_pages_the_rest(
    staff_client: Client, data: ConsoleData, settings: Any
) -> None:
    settings.CONSOLE_PAGE_SIZE = 1
    quiet = Plan.objects.create(project=data.plan.project, name="Quiet", branch="aaa-quiet")
    add_backlog_items(quiet, 2)
    url = reverse("console:card", args=["backlog"])

    content = staff_client.get(url, **HTMX).content.decode()
    table = content.split('id="backlog-plan-counts"')[1].split("</table>")[0]
    assert f"?plan={data.plan.pk}#card-backlog" in table  # it has blocked and running items
    assert f"?plan={quiet.pk}#card-backlog" not in table
    assert "Show 1 more plan</a>" in content

    everything = staff_client.get(url, {"plans": "all"}, **HTMX).content.decode()
    assert f"?plan={quiet.pk}#card-backlog" in everything
    assert "more plan" not in everything


def test_a_resumed_items_old_error_is_marked_previous_attempt(
    staff_client: Client, data: ConsoleData
) -> None:
    data.blocked.last_error = "lore requirement harbour-map is missing"
    data.blocked.save(update_fields=["last_error"])
    staff_client.post(reverse("console:resume", args=[data.blocked.pk]), {"next": "/"})
    data.blocked.refresh_from_db()
    assert data.blocked.status != BacklogStatus.BLOCKED
    content = staff_client.get(
        reverse("console:card", args=["backlog"]), {"plan": data.plan.pk}, **HTMX
    ).content.decode()
    row = content.split(f'id="backlog-{data.blocked.pk}"')[1].split("</tr>")[0]
    assert "previous attempt:" in row
    assert "error-text" not in row


def test_backlog_filters_by_status_phase_and_search(
    staff_client: Client, data: ConsoleData
) -> None:
    url = reverse("console:card", args=["backlog"])
    blocked = staff_client.get(url, {"status": "blocked"}, **HTMX).content.decode()
    assert "outline-core-conflicts" in blocked
    assert "chapter-1-blueprint" not in blocked
    phase = staff_client.get(url, {"phase": "chapterArchitect"}, **HTMX).content.decode()
    assert "chapter-1-blueprint" in phase
    assert "outline-core-conflicts" not in phase
    search = staff_client.get(url, {"q": "keeper's war"}, **HTMX).content.decode()
    assert "outline-core-conflicts" in search
    assert f'id="backlog-{data.vision.pk}"' not in search


def test_backlog_is_paginated(staff_client: Client, data: ConsoleData, settings: Any) -> None:
    settings.CONSOLE_PAGE_SIZE = 2
    url = reverse("console:card", args=["backlog"])
    first = staff_client.get(url, **HTMX).content.decode()
    assert "Page 1 of 2" in first
    assert 'rel="next"' in first
    second = staff_client.get(url, {"page": "2"}, **HTMX).content.decode()
    assert "Page 2 of 2" in second
    # The blocked and stale items come first; the complete vision item is on the last page.
    assert "scroll-harbour-night" in first
    assert 'data-backlog-id="vision-plan"' in second


@pytest.mark.parametrize(
    "params",
    [{}, {"status": "pending"}, {"status": "complete"}, {"phase": "iterative"}, {"q": "scroll"}],
)
def test_backlog_totals_match_the_rows_under_every_filter(
    staff_client: Client, data: ConsoleData, params: dict[str, str]
) -> None:
    """Filters by plan and status take their total from the per-plan counts (no count query);
    the others count. Either way the card's total is the number of matching real items."""
    add_backlog_items(data.plan, 7)
    for plan_filter in ({}, {"plan": str(data.plan.pk)}):
        query = {**params, **plan_filter}
        plan_counts = plans_with_counts()
        filters = BacklogFilterForm(query, plan_counts=plan_counts).filters
        page, _ = backlog_page(filters, plan_counts=plan_counts)
        uncounted, _ = backlog_page(filters)
        assert page.paginator.count == uncounted.paginator.count
    assert backlog_page(BacklogFilters())[0].paginator.count > 7


def test_alerts_filter_by_severity_and_state(staff_client: Client, data: ConsoleData) -> None:
    url = reverse("console:alerts")
    errors = staff_client.get(url, {"severity": "error"}).content.decode()
    assert "Recent planner failures" in errors
    assert "1 backlog item is stale" not in errors
    resolved = staff_client.get(url, {"state": "resolved"}).content.decode()
    assert "Vision used its fallback prompt" in resolved
    assert "Recent planner failures" not in resolved


def test_silenced_alerts_are_shown_as_silenced(staff_client: Client, data: ConsoleData) -> None:
    now = timezone.now()
    Silence.objects.create(
        pattern="backlog:*", starts_at=now, ends_at=now + timedelta(hours=1), author="olivia"
    )
    content = staff_client.get(reverse("console:alerts"), {"state": "silenced"}).content.decode()
    assert "1 backlog item is stale" in content
    assert "Recent planner failures" not in content
    assert 'class="badge badge-silenced"' in content


def test_alert_links_to_what_it_is_about(staff_client: Client, data: ConsoleData) -> None:
    content = staff_client.get(reverse("console:alerts")).content.decode()
    assert f'href="{reverse("console:plan", args=[data.plan.pk])}"' in content
    assert "q=scroll-harbour-night" in content
    assert "Planner iterative" in content
    assert "Template planner.fiction.vision" in content


def test_plan_page_shows_phases_items_transitions_and_transcripts(
    staff_client: Client, data: ConsoleData
) -> None:
    content = staff_client.get(reverse("console:plan", args=[data.plan.pk])).content.decode()
    assert "Lantern Keeper main" in content
    assert 'id="phase-vision"' in content
    assert 'id="phase-sceneWeaver"' in content
    assert "vision|main" in content  # checkpoint
    assert "phase-blocked" in content  # transition
    assert "risks: field required" in content  # validation details
    assert "Plan iteration 1 of Lantern Keeper main." in content  # prompt
    assert "The keeper hides the lamp" in content  # raw reply
    assert "planner.fiction.iterative v1" in content
    assert 'id="run-pipeline"' in content


def test_plan_list_links_each_plan(staff_client: Client, data: ConsoleData) -> None:
    content = staff_client.get(reverse("console:plans")).content.decode()
    assert reverse("console:plan", args=[data.plan.pk]) in content
    assert "The Lantern Keeper" in content


def test_transcript_page_shows_the_whole_exchange(staff_client: Client, data: ConsoleData) -> None:
    response = staff_client.get(reverse("console:transcript", args=[data.failed_transcript.pk]))
    content = response.content.decode()
    assert 'attempt 2 <span class="tag tag-kind">repair</span>' in content
    assert "2100 ms" in content
    assert "700 prompt + 300 completion" in content
    assert "risks: field required" in content


# --- HTMX partials versus pages ---------------------------------------------------------------


@pytest.mark.parametrize("slug", CARD_SLUGS)
def test_card_endpoint_gives_htmx_a_fragment_and_browsers_a_page(
    staff_client: Client, data: ConsoleData, slug: str
) -> None:
    url = reverse("console:card", args=[slug])
    fragment = staff_client.get(url, **HTMX).content.decode()
    assert fragment.lstrip().startswith(f'<section id="card-{slug}"')
    assert "<html" not in fragment
    page = staff_client.get(url).content.decode()
    assert "<html" in page
    assert f'id="card-{slug}"' in page


def test_boosted_requests_get_whole_pages(staff_client: Client, data: ConsoleData) -> None:
    url = reverse("console:card", args=["alerts"])
    content = staff_client.get(url, HTTP_HX_BOOSTED="true", **HTMX).content.decode()
    assert "<html" in content


def test_health_banner_and_progress_partials(staff_client: Client, data: ConsoleData) -> None:
    banner = staff_client.get(reverse("console:health"), **HTMX).content.decode()
    assert banner.lstrip().startswith('<section id="health-banner"')
    assert 'id="summary-counters"' in banner
    progress = staff_client.get(
        reverse("console:plan-progress", args=[data.plan.pk]), **HTMX
    ).content.decode()
    assert progress.lstrip().startswith('<section id="plan-progress"')
    assert 'data-phase="vision" data-status="complete"' in progress
    full = staff_client.get(reverse("console:plan-progress", args=[data.plan.pk]))
    assert full.status_code == 302
    assert full["Location"] == reverse("console:plan", args=[data.plan.pk])


# --- query counts -----------------------------------------------------------------------------


def _count_queries(
    client: Client, url: str, django_assert_num_queries: Any, expected: int, **extra: Any
) -> None:
    with django_assert_num_queries(expected):
        response = client.get(url, **extra)
    assert response.status_code == 200


# Session and user lookups are 2 of each count. The dashboard and the health banner also build
# the health report, whose own (fixed) cost belongs to planners.health and is added at run time.
HEALTH_REPORT_PAGES = ("dashboard", "health", "live")
PINNED_QUERIES = {
    # The planners, transitions and action log cards read the page's health report; the
    # failures card groups the window's failed runs per item (groups, last runs, transcripts).
    # Every page's nav badge reads the silences in force and the open alerts (firing means
    # firing and not silenced); the alerts card reuses both.
    # The planners card's success sparklines and the telemetry card's series (counts, latency
    # ranks) are one query each per chart, whatever the number of runs.
    # The backlog card reads one query per part of its order (needs a person, pending, the
    # rest) on every page.
    "dashboard": 22,
    "alerts": 8,
    "plans": 6,
    # 6 of them read the fiction records (vision, cast, lore, passes, blueprints, scrolls).
    "plan": 18,
    "card-alerts": 6,
    "card-planners": 7,
    "card-backlog": 9,
    "card-stale": 6,
    "card-transitions": 5,
    "card-action-log": 5,
    # Both latency percentiles come from the health report's one query; the series are two.
    "card-telemetry": 11,
    "card-failures": 7,
    "health": 6,
    # The plan is running: its poll also carries its records, items and transcripts.
    "plan-progress": 18,
    # The dashboard's one poll: every card, the banner and the badge, as the dashboard reads them.
    "live": 22,
    "transcript": 5,
}


def _pinned_urls(data: ConsoleData) -> dict[str, tuple[str, dict[str, str]]]:
    urls: dict[str, tuple[str, dict[str, str]]] = {
        "dashboard": (reverse("console:dashboard"), {}),
        "alerts": (reverse("console:alerts"), {}),
        "plans": (reverse("console:plans"), {}),
        "plan": (reverse("console:plan", args=[data.plan.pk]), {}),
    }
    for slug in CARD_SLUGS:
        urls[f"card-{slug}"] = (reverse("console:card", args=[slug]), HTMX)
    urls["health"] = (reverse("console:health"), HTMX)
    urls["plan-progress"] = (reverse("console:plan-progress", args=[data.plan.pk]), HTMX)
    urls["transcript"] = (reverse("console:transcript", args=[data.failed_transcript.pk]), {})
    live_query = f"?cards={','.join(CARD_SLUGS)}&banner=1&q-backlog=plan%3D{data.plan.pk}"
    urls["live"] = (reverse("console:live") + live_query, HTMX)
    return urls


@pytest.mark.parametrize("extra_items", [10, 1000])
def test_query_counts_do_not_grow_with_the_backlog(
    staff_client: Client, data: ConsoleData, django_assert_num_queries: Any, extra_items: int
) -> None:
    add_backlog_items(data.plan, extra_items)
    with CaptureQueriesContext(connection) as report_queries:
        build_health_report()
    for name, (url, headers) in _pinned_urls(data).items():
        expected = PINNED_QUERIES[name]
        if name in HEALTH_REPORT_PAGES:
            expected += len(report_queries)
        _count_queries(staff_client, url, django_assert_num_queries, expected, **headers)


def test_a_long_phase_does_not_hide_the_other_phases_on_the_plan_page(
    staff_client: Client, data: ConsoleData
) -> None:
    add_backlog_items(data.plan, 300)
    content = staff_client.get(reverse("console:plan", args=[data.plan.pk])).content.decode()
    assert 'data-backlog-id="outline-core-conflicts"' in content
    assert 'data-backlog-id="scene-0049"' in content
    assert 'data-backlog-id="scene-0050"' not in content
    assert "250 more items" in content


def test_dashboard_costs_the_same_at_10_and_1000_items(
    staff_client: Client, data: ConsoleData
) -> None:
    """The whole dashboard, health report included, measured on one growing backlog."""
    url = reverse("console:dashboard")
    add_backlog_items(data.plan, 10)
    with CaptureQueriesContext(connection) as small:
        staff_client.get(url)
    BacklogItem.objects.bulk_create(
        BacklogItem(plan=data.plan, backlog_id=f"pass-{n:04d}", phase=Phase.ITERATIVE, position=n)
        for n in range(990)
    )
    refresh_unproduced_inputs([data.plan.pk])
    with CaptureQueriesContext(connection) as large:
        staff_client.get(url)
    assert len(large) == len(small)


def test_synthetic_items_stay_out_of_backlog_counts(
    staff_client: Client, data: ConsoleData
) -> None:
    project = Project.objects.create(title="Synthetic checks")
    synthetic_plan = Plan.objects.create(project=project, name="Synthetic checks")
    BacklogItem.objects.create(
        plan=synthetic_plan,
        backlog_id="synthetic-stale-vision",
        phase=Phase.VISION,
        status=BacklogStatus.IN_PROGRESS,
        synthetic=True,
    )
    content = staff_client.get(reverse("console:dashboard")).content.decode()
    assert (
        "synthetic-stale-vision" not in content.split('id="card-backlog"')[1].split("</section>")[0]
    )
    assert "Synthetic checks" not in content
    assert '<span class="summary-value" id="summary-in_progress">1</span>' in content


def test_firing_alerts_are_listed_before_resolved_ones(
    staff_client: Client, data: ConsoleData
) -> None:
    content = staff_client.get(reverse("console:alerts")).content.decode()
    assert content.index(f'id="alert-{data.failure_alert.pk}"') < content.index(
        f'id="alert-{data.resolved_alert.pk}"'
    )


def test_repeated_failures_of_one_item_are_one_group(
    staff_client: Client, data: ConsoleData
) -> None:
    add_repeated_failures(data, count=12)
    content = staff_client.get(reverse("console:card", args=["failures"]), **HTMX).content.decode()
    assert content.count('<li class="failure"') == 1
    data.failed_run.refresh_from_db()  # the first of the 13, 13 minutes ago
    assert "failed 13\u00d7</strong> since <time" in content
    assert f">{data.failed_run.created_at:%H:%M}</time> UTC" in content
    assert "Connection reset by the provider" in content  # the last error, not the first
    assert 'aria-label="Resume outline-core-conflicts after its failures"' in content
