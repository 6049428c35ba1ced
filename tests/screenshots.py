"""``make screenshots``: the README's pictures of the console, taken from the demo data.

In a fresh folder under ``var/``: migrate, seed the templates, run the demo project's scripted
pipeline in this process, verify and partly check the Vision planner's dev checklist, then open
the dashboard, the demo plan's page and that checklist in Chromium at 1440x900 and save each
page in ``docs/screenshots/``. Nothing outside 127.0.0.1 is called.

Run it with ``python -m tests.screenshots`` from the project root.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "screenshots-demo"
OUT = ROOT / "docs" / "screenshots"


def _configure() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    os.environ.update(
        VAR_DIR=str(WORK),
        DATABASE_URL=f"sqlite:///{WORK / 'db.sqlite3'}",
        CELERY_TASK_ALWAYS_EAGER="true",
        DEPLOY_ENVIRONMENT="dev",
        DEMO="0",
        DJANGO_ALLOW_ASYNC_UNSAFE="true",  # Playwright's event loop runs in this thread
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognition.settings")


def _demo_data() -> tuple[int, str]:
    """The demo plan, run to the end, and the checklist to show; returns (plan id, its path)."""
    # Imported here, after django.setup(): they need the settings _configure() chose.
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from cognition.seeding import seed_planner_templates
    from planners.demo import ensure_demo_pipeline
    from planners.models.rollout import ItemStatus
    from planners.rollouts import actions

    call_command("migrate", verbosity=0)
    seed_planner_templates()
    plan = ensure_demo_pipeline()
    assert plan is not None, "the demo project already existed in a fresh database"
    User.objects.create_user(username="olivia", is_staff=True)
    checklist, _ = actions.get_or_create_checklist("vision", "dev", actor="olivia")
    actions.verify_checklist(checklist, actor="olivia")
    for item in checklist.items.filter(required=True, verification="")[:2]:
        actions.mark_item(item, status=ItemStatus.PASSED, actor="olivia", note="Checked.")
    return plan.pk, "/rollouts/vision/dev/"


def main() -> int:
    _configure()
    import django

    django.setup()
    # After django.setup(), for the same reason as in _demo_data().
    from django.contrib.auth.models import User
    from playwright.sync_api import sync_playwright
    from pytest_django.live_server_helper import LiveServer

    from tests.browser import DESKTOP, launch, logged_in_page

    plan_id, checklist_path = _demo_data()
    server = LiveServer("127.0.0.1:0")
    OUT.mkdir(parents=True, exist_ok=True)
    pages = {
        "dashboard.png": "/operations/backlog-telemetry/",
        "plan.png": f"/plans/{plan_id}/",
        "checklist.png": checklist_path,
    }
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            olivia = User.objects.get(username="olivia")
            with logged_in_page(browser, server.url, olivia, DESKTOP) as page:
                for name, path in pages.items():
                    page.goto(path)
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(OUT / name), full_page=False)
                    print(f"{OUT / name}: {path}")
            browser.close()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
