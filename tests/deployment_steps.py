"""What people do on one deployment during a rollout, run inside that deployment's own process
(``manage.py shell -c "from tests.deployment_steps import ...; ..."``) by the two-deployment
test. Each step goes through the same doors a person uses: the drill and its ack link, the
console's checklist pages (as a logged-in staff member), and the product's actions.
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from cognition.seeding import seed_planner_templates
from opsalerts.actions import trigger_synthetic_alert
from planners.framework.catalog import catalog
from planners.models.rollout import RolloutChecklist
from tests.factories.liveness import record_workers_and_beat
from tests.factories.rollouts import PLANNER, run_vision_scripted

SIGNER = "olivia"
WAIVER = "rita"


def _console(username: str) -> Client:
    user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": True})
    client = Client()
    client.force_login(user)
    return client


def _checklist_url() -> str:
    return f"/rollouts/{PLANNER}/{settings.DEPLOY_ENVIRONMENT}/"


def gather_live_evidence() -> None:
    """Seed templates, run the planner once, send the drill and acknowledge it through the
    link its notification carried (what the on-call person does from the chat message)."""
    seed_planner_templates(list(catalog.all()))
    # The deployment's workers and beat report in (the test runs its steps in-process instead
    # of starting them); without them the diagnostics are critical (ops:workers-down).
    record_workers_and_beat()
    run_vision_scripted()
    result = trigger_synthetic_alert(PLANNER, actor="drill")
    assert result.delivery is not None, result
    assert result.delivery.status == "sent", result
    [entry] = [a for a in result.delivery.payload["alerts"] if a["synthetic"]]
    Client().post(urlsplit(entry["ack_url"]).path, {"name": "Ravi"})


def complete_manual_items() -> None:
    """From the console: start the checklist, pass the manual items (rita), waive the optional
    legacy clean-up with a reason."""
    console = _console(WAIVER)
    url = _checklist_url()
    console.post(f"{url}start/")
    checklist = RolloutChecklist.objects.get(
        planner_slug=PLANNER, environment__name=settings.DEPLOY_ENVIRONMENT
    )
    for item in checklist.items.filter(required=True, verification=""):
        console.post(f"{url}items/{item.key}/mark/", {"status": "passed", "note": "Checked."})
    console.post(
        f"{url}items/legacy-cleanup/mark/",
        {"status": "waived", "waiver_reason": "Nothing to clean up."},
    )


def sign_off() -> None:
    """olivia presses Sign off on the console; prints the page's notice and exits 1 if refused."""
    page = _console(SIGNER).post(
        f"{_checklist_url()}sign-off/",
        {"deployment_date": "2026-11-27", "note": "Looks good."},
        HTTP_HX_REQUEST="true",
    )
    text = page.content.decode()
    if "signed off by olivia" not in text:
        start = text.find("Cannot sign off")
        print(text[start : text.find("</", start)], file=sys.stderr)
        raise SystemExit(1)
    print(f"signed off {PLANNER} / {settings.DEPLOY_ENVIRONMENT}")


def run_planner() -> None:
    run_vision_scripted()
