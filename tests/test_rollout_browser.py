"""Signing off the Vision planner's dev rollout from the console, in a real browser.

Chromium (Playwright) against a live server: open the matrix, open vision/dev, run the system
checks, mark the last manual item and sign off, all without a page reload. The screenshot lands
in ``var/screenshots/rollout-dev-signed-off.png``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from planners.models.rollout import ItemStatus, RolloutChecklist, SignOff
from planners.rollouts import actions
from tests.factories.rollouts import PLANNER, make_live_evidence

# Playwright's sync API runs an event loop in this thread; the ORM calls here are deliberate.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(settings.VAR_DIR) / "screenshots"
TIMEOUT_MS = 20_000


@pytest.fixture
def page(live_server: Any, django_user_model: Any) -> Iterator[Any]:
    """A browser page logged in as staff member olivia (session cookie from force_login)."""
    olivia: User = django_user_model.objects.create_user(username="olivia", is_staff=True)
    client = Client()
    client.force_login(olivia)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(
                viewport={"width": 1440, "height": 1100}, base_url=live_server.url
            )
            context.set_default_timeout(TIMEOUT_MS)
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
            yield context.new_page()
        finally:
            browser.close()


def test_staff_signs_off_vision_dev_from_the_console(page: Any, settings: Any) -> None:
    make_live_evidence(settings)
    checklist, _ = actions.get_or_create_checklist(PLANNER, "dev", actor="olivia")
    for item in checklist.items.filter(required=True, verification="").exclude(key="docs-updated"):
        actions.mark_item(item, status=ItemStatus.PASSED, actor="olivia", note="Checked.")

    page.goto("/rollouts/")
    page.locator('tr[data-planner="vision"] td[data-environment="dev"] a').click()
    page.wait_for_url("**/rollouts/vision/dev/")
    page.evaluate("window.__rolloutMarker = 'still-here'")

    page.get_by_role("button", name="Verify system checks").click()
    page.get_by_text("Verified 6 system checks: 6 passed.").wait_for()
    assert page.locator('#item-synthetic-alert[data-status="passed"]').count() == 1

    row = page.locator("#item-docs-updated")
    row.locator("summary", has_text="Mark").click()
    row.get_by_label("Status").select_option("passed")
    row.get_by_label("Note", exact=True).fill("README links the rollout recipe.")
    row.get_by_role("button", name="Save").click()
    page.wait_for_selector('#item-docs-updated[data-status="passed"]')
    page.locator("#sign-off-ready").wait_for()

    page.get_by_label("Deployment date").fill("2026-11-26")
    page.locator("#sign-off-note").fill("Vision is live on dev.")
    page.get_by_role("button", name="Sign off dev").click()
    page.locator("#sign-off-record").wait_for()

    assert page.evaluate("window.__rolloutMarker") == "still-here"  # no page reload
    assert "olivia" in page.locator("#sign-off-record").inner_text()
    assert "ends in" in page.locator("#watch-countdown").inner_text()
    assert "Watching until" in page.locator("#gate-why").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "rollout-dev-signed-off.png"), full_page=True)
    record = SignOff.objects.get(checklist=RolloutChecklist.objects.get(pk=checklist.pk))
    assert (record.owner_name, str(record.deployment_date)) == ("olivia", "2026-11-26")

    page.goto("/rollouts/")
    cell = page.locator('tr[data-planner="vision"] td[data-environment="dev"]')
    assert cell.get_attribute("data-status") == "signed_off"
    assert "2026-11-26 · olivia" in cell.inner_text()
