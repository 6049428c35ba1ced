"""The console for the person on call, in Chromium against a live server: counts that agree,
a phone that works at 390 by 844, a visible pause when live updates stop, grouped failures, and
zero serious axe-core violations on every console page and state.

The pages are the real console (views, templates, CSS and console.js); the data are the named
builders of tests/factories/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from opsalerts.models import AlertEvent
from planners.rollouts import actions as rollout_actions
from tests.browser import DESKTOP, PHONE, StoppableServer, logged_in_page, running_chromium
from tests.browser import serious_violations as axe_serious
from tests.factories.console import (
    ConsoleData,
    add_alerts_in_each_state,
    add_repeated_failures,
    add_transitions,
    build_console_data,
)
from tests.factories.rollouts import PLANNER

# Playwright's sync API runs an event loop in this thread; the ORM calls here are deliberate.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with running_chromium() as chromium:
        yield chromium


@pytest.fixture
def olivia(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user(username="olivia", is_staff=True)


@pytest.fixture
def data() -> ConsoleData:
    built = build_console_data()
    add_alerts_in_each_state()
    return built


def console_pages(data: ConsoleData | None) -> list[str]:
    """Every console page, with the states they show for ``data`` (None: an empty database)."""
    pages = [
        "/operations/backlog-telemetry/",
        "/alerts/",
        "/alerts/?state=firing",
        "/plans/",
        "/operations/backlog-telemetry/cards/transitions/",
        "/rollouts/",
        f"/rollouts/{PLANNER}/dev/",
        "/no-such-page/",
    ]
    if data is not None:
        pages += [
            f"/plans/{data.plan.pk}/",  # a plan with a blocked item
            f"/transcripts/{data.failed_transcript.pk}/",
        ]
    return pages


def _open(page: Any, path: str) -> None:
    page.goto(path)
    page.wait_for_load_state("load")


# --- counts ---------------------------------------------------------------------------------


def test_badge_tile_and_filtered_list_agree(
    browser: Any, live_server: Any, olivia: User, data: ConsoleData
) -> None:
    with logged_in_page(browser, live_server.url, olivia) as page:
        _open(page, "/operations/backlog-telemetry/")
        badge = page.locator("#nav-firing-count").inner_text()
        tile = page.locator("#summary-firing").inner_text()
        page.locator("#summary-firing").click()  # the tile links to the filtered list
        page.wait_for_url("**/alerts/?state=firing")
        listed = page.locator("#card-alerts tbody tr").count()
        states = page.locator("#card-alerts tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.state)"
        )
        assert (badge, tile, str(listed)) == ("2", "2", "2")
        assert states == ["firing", "firing"]
        assert page.locator("#alerts-count-silenced").inner_text() == "1"


# --- the phone ------------------------------------------------------------------------------


def test_no_console_page_scrolls_sideways_on_a_phone(
    browser: Any, live_server: Any, olivia: User, data: ConsoleData
) -> None:
    rollout_actions.get_or_create_checklist(PLANNER, "dev", actor="olivia")
    too_wide = {}
    with logged_in_page(browser, live_server.url, olivia, PHONE) as page:
        for path in console_pages(data):
            _open(page, path)
            widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            if widths[0] > widths[1]:
                too_wide[path] = widths
            nav = page.locator(".topbar-inner").bounding_box()
            assert nav["height"] < 60, f"the top bar wraps on {path}: {nav}"
    assert too_wide == {}, f"pages wider than the phone (scrollWidth, innerWidth): {too_wide}"


def _inside_the_viewport(page: Any, locator: Any) -> bool:
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def test_on_call_actions_are_within_reach_on_a_phone(
    browser: Any, live_server: Any, olivia: User, data: ConsoleData
) -> None:
    with logged_in_page(browser, live_server.url, olivia, PHONE) as page:
        _open(page, "/alerts/")
        row = page.locator(f"#alert-{data.stale_alert.pk}")
        for role, name in (
            ("textbox", "Note for acknowledging backlog:stale (optional)"),
            ("button", "Acknowledge backlog:stale"),
            ("button", "Silence backlog:stale"),
        ):
            control = row.get_by_role(role, name=name, exact=True)
            control.scroll_into_view_if_needed()
            assert _inside_the_viewport(page, control), name
        _open(page, f"/operations/backlog-telemetry/?plan={data.plan.pk}")
        backlog = page.locator("#card-backlog")
        resume = backlog.get_by_role("button", name="Resume outline-core-conflicts", exact=True)
        resume.scroll_into_view_if_needed()
        assert _inside_the_viewport(page, resume)
        assert page.evaluate("window.scrollX") == 0

        menu = page.get_by_role("button", name="Menu")
        assert page.get_by_role("link", name="Plans").is_hidden()
        menu.click()
        page.get_by_role("link", name="Plans").click()
        page.wait_for_url("**/plans/")


# --- live state -----------------------------------------------------------------------------


@pytest.fixture
def stoppable_server(tmp_path: Path) -> Iterator[StoppableServer]:
    server = StoppableServer(tmp_path)
    server.env["CONSOLE_REFRESH_SECONDS"] = "1"
    server.start()
    try:
        yield server
    finally:
        server.close()


# When each of the page's answered live polls started and when its answer ended, in ms.
LIVE_POLLS = """() => performance.getEntriesByType("resource")
  .filter(entry => entry.name.includes("/live/"))
  .map(entry => [entry.startTime, entry.responseEnd])"""


def test_updates_pause_visibly_when_the_server_goes_and_resume_when_it_returns(
    browser: Any, stoppable_server: StoppableServer, olivia: User, data: ConsoleData
) -> None:
    with logged_in_page(browser, stoppable_server.url, olivia) as page:
        _open(page, "/operations/backlog-telemetry/")
        # The first two polls, as soon as they are answered (not a fixed window). The second
        # starts a refresh (a second) after the first, not alongside it, so each refresh is one
        # request; htmx holds it back while the first is still being answered.
        page.wait_for_function(f"({LIVE_POLLS})().length >= 2")
        (first_start, first_end), (second_start, _) = page.evaluate(LIVE_POLLS)[:2]
        period = max(1_000, first_end - first_start)
        assert 900 <= second_start - first_start <= period + 1_500, (first_start, second_start)
        bar = page.locator("#live-status")
        assert bar.is_hidden()

        stoppable_server.stop()
        bar.wait_for(state="visible", timeout=10_000)
        text = bar.inner_text()
        assert re.search(r"Live updates paused — last update \d\d:\d\d:\d\d UTC", text), text

        stoppable_server.start()
        bar.wait_for(state="hidden", timeout=10_000)


# --- signal first ---------------------------------------------------------------------------


def test_failures_are_grouped_per_item(
    browser: Any, live_server: Any, olivia: User, data: ConsoleData
) -> None:
    add_repeated_failures(data, count=12)
    with logged_in_page(browser, live_server.url, olivia) as page:
        _open(page, "/operations/backlog-telemetry/")
        groups = page.locator("#card-failures .failure")
        assert groups.count() == 1
        text = groups.first.inner_text()
        assert re.search(r"failed 13\u00d7 since \d\d:\d\d", text), text
        resume = groups.first.get_by_role(
            "button", name="Resume outline-core-conflicts after its failures"
        )
        assert resume.is_visible()


# --- accessibility --------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["empty", "populated"])
def test_no_serious_accessibility_violations_on_any_console_page(
    browser: Any, live_server: Any, olivia: User, state: str, request: pytest.FixtureRequest
) -> None:
    data = request.getfixturevalue("data") if state == "populated" else None
    rollout_actions.get_or_create_checklist(PLANNER, "dev", actor="olivia")
    found: dict[str, list[str]] = {}
    for viewport in (DESKTOP, PHONE):
        with logged_in_page(browser, live_server.url, olivia, viewport, with_axe=True) as page:
            for path in console_pages(data):
                _open(page, path)
                for details in page.locator("details").all()[:3]:
                    details.evaluate("d => d.open = true")
                violations = axe_serious(page)
                if violations:
                    found[f"{path} at {viewport['width']}px"] = violations
    assert found == {}


def test_acknowledging_with_a_note_keeps_it_and_returns_focus_to_the_row(
    browser: Any, live_server: Any, olivia: User, data: ConsoleData
) -> None:
    with logged_in_page(browser, live_server.url, olivia) as page:
        _open(page, "/alerts/")
        row_id = f"alert-{data.stale_alert.pk}"
        page.get_by_role(
            "textbox", name="Note for acknowledging backlog:stale (optional)", exact=True
        ).fill("provider slow, fix deploying")
        page.get_by_role("button", name="Acknowledge backlog:stale", exact=True).click()
        page.wait_for_selector(f'#{row_id}[data-state="acknowledged"]')
        page.wait_for_function("id => document.activeElement.id === id", arg=row_id, timeout=5_000)
        names = page.locator("#card-alerts button").evaluate_all(
            "buttons => buttons.map(b => b.getAttribute('aria-label') || b.innerText)"
        )
        assert len(names) == len(set(names)), names
    event = AlertEvent.objects.get(alert=data.stale_alert, kind="acknowledged")
    assert (event.actor, event.channel) == ("olivia", "console")
    assert event.detail == {"note": "provider slow, fix deploying"}


# --- time on the x-axis ---------------------------------------------------------------------


def test_the_range_picker_redraws_the_charts_and_keeps_the_range_in_the_url(
    browser: Any, live_server: Any, olivia: User, data: ConsoleData
) -> None:
    with logged_in_page(browser, live_server.url, olivia) as page:
        _open(page, "/operations/backlog-telemetry/")
        card = page.locator("#card-telemetry")
        card.locator('[data-chart="runs"] canvas').wait_for()
        card.locator('[data-chart="latency"] canvas').wait_for()
        page.locator("#card-planners .sparkline canvas").first.wait_for()
        page.evaluate("window.__consoleMarker = 'still-here'")

        card.get_by_role("link", name="7 d").click()
        page.wait_for_url("**/operations/backlog-telemetry/?range=7d")
        page.locator('#card-telemetry [data-chart="runs"][data-range="7d"] canvas').wait_for()
        assert page.evaluate("window.__consoleMarker") == "still-here"  # no reload
        assert "last 7 d" in page.locator("#card-telemetry").inner_text()

        page.reload()
        current = page.locator('#card-telemetry .range-picker [aria-current="true"]')
        assert current.inner_text() == "7 d"


def test_history_pages_keep_filters_and_page_in_the_address_bar(
    browser: Any, live_server: Any, olivia: User, data: ConsoleData
) -> None:
    add_transitions(data, count=60)
    with logged_in_page(browser, live_server.url, olivia) as page:
        _open(page, "/operations/backlog-telemetry/")
        page.locator("#card-transitions").get_by_role("link", name="Full history").click()
        page.wait_for_url("**/cards/transitions/")
        card = page.locator("#card-transitions")
        card.get_by_label("Became").select_option("pending")
        card.get_by_role("button", name="Filter").click()
        page.wait_for_url("**/cards/transitions/?to=pending*")  # the form's empty fields too
        page.evaluate("window.__consoleMarker = 'still-here'")
        card.get_by_role("link", name="Older →").click()
        page.wait_for_url("**/cards/transitions/?to=pending&page=2")
        assert page.evaluate("window.__consoleMarker") == "still-here"
        assert "Page 2" in page.locator("#card-transitions .pager").inner_text()
        page.reload()  # the shared link shows the same page
        assert "Page 2" in page.locator("#card-transitions .pager").inner_text()
        assert page.locator("#transitions-to").input_value() == "pending"
