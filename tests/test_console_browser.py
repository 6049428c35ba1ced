"""The console in a real browser (Chromium driven by Playwright) against a live server: log in,
watch the dashboard fill in, acknowledge an alert and resume an item without a page reload,
and run a pipeline from the plan page until its phases complete.

The pipeline's Celery tasks run eagerly inside the live server's thread (same process), so no
worker or broker is involved. Screenshots land in ``var/screenshots/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from planners.models import BacklogItem, BacklogStatus, Project
from tests.browser import TIMEOUT_MS, running_chromium, session_cookie
from tests.factories.console import ConsoleData, build_console_data

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from a
# thread with a running loop unless told this is deliberate.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("eager_tasks"),
]

SCREENSHOTS = Path(settings.VAR_DIR) / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with running_chromium() as chromium:
        yield chromium


@pytest.fixture
def olivia(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user(
        username="olivia", password="ops-console-pass", is_staff=True
    )


def _watched_page(browser: Any, base_url: str, cookies: list[dict[str, str]]) -> Iterator[Any]:
    """A page with ``cookies`` that fails the test on any script or console error."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, base_url=base_url)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_cookies(cookies)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        yield page
        assert errors == [], f"the browser reported errors: {errors}"
    finally:
        context.close()


@pytest.fixture
def signed_out_page(browser: Any, live_server: Any) -> Iterator[Any]:
    yield from _watched_page(browser, live_server.url, [])


@pytest.fixture
def page(browser: Any, live_server: Any, olivia: User) -> Iterator[Any]:
    """A page with olivia's session: the first test logs in through the form, the others
    start where that leaves her."""
    yield from _watched_page(browser, live_server.url, [session_cookie(olivia, live_server.url)])


@pytest.fixture
def data() -> ConsoleData:
    return build_console_data()


def _mark_page(page: Any) -> None:
    """Tag the window so a full reload (which would drop the tag) is detectable."""
    page.evaluate("window.__consoleMarker = 'still-here'")


def _not_reloaded(page: Any) -> bool:
    return bool(page.evaluate("window.__consoleMarker === 'still-here'"))


def test_dashboard_fills_in_and_acknowledging_moves_the_alert(
    signed_out_page: Any, olivia: User, data: ConsoleData
) -> None:
    page = signed_out_page
    page.goto("/")
    page.get_by_label("Username").fill("olivia")
    page.get_by_label("Password").fill("ops-console-pass")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/operations/backlog-telemetry/")
    banner = page.locator("#health-banner")
    banner.wait_for()
    assert "Backlog Telemetry" in banner.inner_text()
    for card in ("alerts", "backlog", "telemetry", "planners", "failures", "stale"):
        page.locator(f"#card-{card}").wait_for()
    page.locator('#card-telemetry [data-chart="runs"] canvas').wait_for()  # drawn by uPlot
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)

    _mark_page(page)
    row = page.locator(f"#alert-{data.stale_alert.pk}")
    assert row.get_attribute("data-state") == "firing"
    row.get_by_role("button", name="Acknowledge").click()
    page.wait_for_selector(f'#alert-{data.stale_alert.pk}[data-state="acknowledged"]')
    assert "Acknowledged backlog:stale." in page.locator("#card-alerts").inner_text()
    assert page.locator("#summary-firing").inner_text() == "1"  # out-of-band counter
    assert page.locator("#nav-firing-count").inner_text() == "1"
    assert _not_reloaded(page)


def test_resume_a_blocked_item_without_reloading(page: Any, data: ConsoleData) -> None:
    page.goto(f"/operations/backlog-telemetry/?plan={data.plan.pk}")
    _mark_page(page)
    row = page.locator(f"#backlog-{data.blocked.pk}")
    assert row.get_attribute("data-status") == "blocked"
    row.get_by_role("button", name="Resume").click()
    page.get_by_text("Resumed outline-core-conflicts").wait_for()
    assert _not_reloaded(page)
    assert data.blocked.transitions.filter(reason="resume", actor="olivia").exists()
    # The counters elsewhere on the page were updated out of band to what the database says
    # now (the resumed phase already ran: tasks are eager here).
    blocked_now = BacklogItem.objects.filter(status=BacklogStatus.BLOCKED, synthetic=False).count()
    assert page.locator("#summary-blocked").inner_text() == str(blocked_now)
    data.blocked.refresh_from_db()
    row = page.locator(f"#backlog-{data.blocked.pk}")
    assert row.get_attribute("data-status") == data.blocked.status


def test_run_a_pipeline_from_the_plan_page_and_watch_phases_complete(page: Any) -> None:
    from planners.actions import create_plan

    project = Project.objects.create(title="The Glass Orchard")
    plan = create_plan(project, agent_backend="scripted", actor="olivia")
    page.goto(f"/plans/{plan.pk}/")
    assert page.locator('[data-phase="vision"]').get_attribute("data-status") == "pending"
    _mark_page(page)
    page.get_by_role("button", name="Run pipeline").click()
    page.wait_for_selector('[data-phase="vision"][data-status="complete"]', timeout=60_000)
    page.wait_for_selector('[data-phase="sceneWeaver"][data-status="complete"]', timeout=60_000)
    assert _not_reloaded(page)
    page.reload()  # the transcripts below the progress panel come with a fresh page
    page.locator("#phase-sceneWeaver details.transcript").first.wait_for()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "plan.png"), full_page=True)
    assert plan.backlog_items.exclude(status=BacklogStatus.COMPLETE).count() == 0
