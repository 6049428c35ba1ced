"""Rollout console pages: staff only, HTMX fragments, pinned query counts (the admin is in
test_rollout_admin.py)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from opsalerts.actions import acknowledge_alert
from opsalerts.models import Alert
from planners.framework.catalog import catalog
from planners.models import ActionLogEntry
from planners.models.rollout import ItemStatus, RolloutChecklist, SignOff
from planners.rollouts import actions
from tests.factories.rollouts import (
    PLANNER,
    acknowledged_synthetic_alert,
    make_live_evidence,
    pass_manual_items,
    seed_vision_template,
    signed_off_dev,
    verified_checklist,
)
from tests.servers import ReceivedRequest, Receiver

pytestmark = pytest.mark.django_db

HX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}
CHECKLIST_URL = "/rollouts/vision/dev/"

# Session + user, environments, checklists with counts (matrix); the checklist page adds the
# checklist, its items, the sign-off rules (existing sign-off, previous env and its watch's
# runs and alerts so far, signer rights). Both add the navigation's firing count (silences in
# force, open alerts).
MATRIX_QUERIES = 6
CHECKLIST_QUERIES = 13


def _many_checklists(owner: User, settings: Any, *, sign_off_dev: bool = True) -> None:
    """Larger data: every planner started in every environment, dev signed off for some."""
    if sign_off_dev:
        signed_off_dev(owner, settings)
    for planner in catalog.all():
        for env in ("dev", "staging", "production"):
            checklist, _ = actions.get_or_create_checklist(planner.metadata.slug, env)
            if env == "staging":
                pass_manual_items(checklist)


def test_matrix_query_count_is_the_same_for_small_and_larger_data(
    staff_client: Client, staff_user: User, settings: Any, django_assert_num_queries: Any
) -> None:
    actions.get_or_create_checklist(PLANNER, "dev")
    with django_assert_num_queries(MATRIX_QUERIES):
        small = staff_client.get("/rollouts/")
    assert small.status_code == 200

    _many_checklists(staff_user, settings)
    with django_assert_num_queries(MATRIX_QUERIES):
        large = staff_client.get("/rollouts/")
    assert large.status_code == 200


def test_matrix_shows_each_state_with_sign_off_date_owner_and_waivers(
    staff_client: Client, staff_user: User, settings: Any
) -> None:
    verified_checklist(settings, "staging")
    settings.DEPLOY_ENVIRONMENT = "dev"
    signed_off_dev(staff_user, settings)
    actions.get_or_create_checklist("iterative", "dev")
    iterative_dev = RolloutChecklist.objects.get(planner_slug="iterative")
    actions.mark_item(
        iterative_dev.items.get(key="docs-updated"),
        status=ItemStatus.WAIVED,
        actor="olivia",
        waiver_reason="Docs next sprint.",
    )

    page = staff_client.get("/rollouts/").content.decode()

    assert "<h1>Rollouts</h1>" in page
    today = f"{dt.date.today():%Y-%m-%d}"
    assert f"{today} · olivia" in page
    assert 'data-environment="dev" data-status="signed_off"' in page
    assert 'data-environment="staging" data-status="ready"' in page
    assert 'data-environment="production" data-status="not_started"' in page
    assert "In progress" in page
    assert '<span class="tag">1 waived</span>' in page
    for planner in catalog.all():
        assert f'data-planner="{planner.metadata.slug}"' in page


def test_matrix_htmx_refresh_returns_only_the_fragment(staff_client: Client) -> None:
    fragment = staff_client.get("/rollouts/", **HX).content.decode()
    assert fragment.lstrip().startswith('<section id="rollout-matrix"')
    assert "<html" not in fragment

    boosted = staff_client.get("/rollouts/", HTTP_HX_BOOSTED="true", **HX).content.decode()
    assert "<html" in boosted


def test_checklist_query_count_is_the_same_for_small_and_larger_data(
    staff_client: Client, staff_user: User, settings: Any, django_assert_num_queries: Any
) -> None:
    signed_off_dev(staff_user, settings)  # dev watching: its runs and alerts are read live
    actions.get_or_create_checklist(PLANNER, "staging")
    with django_assert_num_queries(CHECKLIST_QUERIES):
        small = staff_client.get("/rollouts/vision/staging/")
    assert small.status_code == 200

    _many_checklists(staff_user, settings, sign_off_dev=False)
    make_live_evidence(settings)
    for n in range(5):
        item = RolloutChecklist.objects.get(
            planner_slug=PLANNER, environment__name="staging"
        ).items.get(key="docs-updated")
        actions.attach_evidence(item, actor="olivia", text=f"note {n}")
    with django_assert_num_queries(CHECKLIST_QUERIES):
        large = staff_client.get("/rollouts/vision/staging/")
    assert large.status_code == 200


def test_unknown_planner_or_environment_is_404(staff_client: Client) -> None:
    assert staff_client.get("/rollouts/visoin/dev/").status_code == 404
    assert staff_client.get("/rollouts/vision/qa/").status_code == 404


def test_rollout_pages_are_for_staff_only(client: Client, plain_user: User) -> None:
    anonymous = client.get("/rollouts/")
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]
    client.force_login(plain_user)
    assert client.get("/rollouts/").status_code == 403
    assert client.post("/rollouts/vision/dev/start/").status_code == 403
    assert not RolloutChecklist.objects.exists()


def test_checklist_start_mark_and_waive_over_htmx(staff_client: Client) -> None:
    started = staff_client.post(f"{CHECKLIST_URL}start/", **HX).content.decode()
    assert started.lstrip().startswith('<section id="checklist"')
    assert "Checklist started from the runbook." in started

    refused = staff_client.post(
        f"{CHECKLIST_URL}items/docs-updated/mark/", {"status": "waived"}, **HX
    ).content.decode()
    assert "needs a reason" in refused
    assert 'class="flash flash-error"' in refused

    marked = staff_client.post(
        f"{CHECKLIST_URL}items/docs-updated/mark/",
        {"status": "waived", "waiver_reason": "Docs ship next sprint."},
        **HX,
    ).content.decode()
    assert "Waived:</strong> Docs ship next sprint." in marked
    item = RolloutChecklist.objects.get().items.get(key="docs-updated")
    assert (item.status, item.checked_by) == ("waived", "olivia")


def test_system_item_cannot_be_passed_from_the_console(staff_client: Client) -> None:
    staff_client.post(f"{CHECKLIST_URL}start/", **HX)
    response = staff_client.post(
        f"{CHECKLIST_URL}items/seeder-ran/mark/", {"status": "passed"}, **HX
    )
    assert "verified by the system" in response.content.decode()
    assert RolloutChecklist.objects.get().items.get(key="seeder-ran").status == "pending"


def test_system_item_cannot_be_waived_from_the_console(staff_client: Client) -> None:
    staff_client.post(f"{CHECKLIST_URL}start/", **HX)

    refused = staff_client.post(
        f"{CHECKLIST_URL}items/synthetic-alert/mark/",
        {"status": "waived", "waiver_reason": "Pager is down this week."},
        **HX,
    ).content.decode()

    assert "cannot be waived or marked by hand" in refused
    item = RolloutChecklist.objects.get().items.get(key="synthetic-alert")
    assert (item.status, item.waiver_reason) == ("pending", "")


def test_attach_uploads_a_file_served_to_staff_only(
    staff_client: Client, client: Client, plain_user: User, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    staff_client.post(f"{CHECKLIST_URL}start/", **HX)
    upload = SimpleUploadedFile("telemetry.png", b"\x89PNG fake", content_type="image/png")

    response = staff_client.post(
        f"{CHECKLIST_URL}items/console-telemetry/evidence/",
        {"text": "Telemetry shows vision", "link": "https://wiki.example.test/t", "file": upload},
        **HX,
    )

    page = response.content.decode()
    assert "Evidence attached" in page
    item = RolloutChecklist.objects.get().items.get(key="console-telemetry")
    assert item.evidence_file.name == "rollouts/vision/dev/console-telemetry/telemetry.png"
    assert (tmp_path / item.evidence_file.name).read_bytes() == b"\x89PNG fake"
    file_url = f"{CHECKLIST_URL}items/console-telemetry/file/"
    assert file_url in page
    served = staff_client.get(file_url)
    assert b"".join(served.streaming_content) == b"\x89PNG fake"  # type: ignore[attr-defined]
    client.force_login(plain_user)
    assert client.get(file_url).status_code == 403


def test_verify_and_sign_off_from_the_console(staff_client: Client, settings: Any) -> None:
    make_live_evidence(settings)
    staff_client.post(f"{CHECKLIST_URL}start/", **HX)
    pass_manual_items(RolloutChecklist.objects.get())

    verified = staff_client.post(f"{CHECKLIST_URL}verify/", **HX).content.decode()
    assert "Verified 6 system checks: 6 passed." in verified
    assert 'id="sign-off-ready"' in verified

    signed = staff_client.post(
        f"{CHECKLIST_URL}sign-off/", {"deployment_date": "2026-11-26", "note": "Ship it"}, **HX
    ).content.decode()
    assert "vision / dev signed off by olivia." in signed
    assert 'id="sign-off-record"' in signed
    assert "deployed 2026-11-26" in signed
    assert SignOff.objects.get().note == "Ship it"


def test_sign_off_refusal_is_shown_with_its_reasons(staff_client: Client) -> None:
    staff_client.post("/rollouts/vision/staging/start/", **HX)
    refused = staff_client.post(
        "/rollouts/vision/staging/sign-off/", {"deployment_date": "2026-11-26"}, **HX
    ).content.decode()
    assert "Cannot sign off vision / staging" in refused
    assert "dev must be signed off for vision before staging" in refused
    assert not SignOff.objects.exists()


def test_verify_for_another_environment_explains_where_to_run_it(staff_client: Client) -> None:
    staff_client.post("/rollouts/vision/staging/start/", **HX)
    page = staff_client.get("/rollouts/vision/staging/").content.decode()
    assert 'id="verify-checklist"' not in page
    assert "python manage.py verify_rollout vision" in page

    refused = staff_client.post("/rollouts/vision/staging/verify/", **HX).content.decode()
    assert "This deployment is dev" in refused


def test_plain_form_posts_redirect_back_to_the_page(staff_client: Client) -> None:
    response = staff_client.post(f"{CHECKLIST_URL}start/")
    assert response.status_code == 302
    assert response["Location"] == CHECKLIST_URL
    bad = staff_client.post(f"{CHECKLIST_URL}items/docs-updated/mark/", {"status": "waived"})
    assert bad.status_code == 400
    assert "<html" in bad.content.decode()


@pytest.fixture
def ops_channel(settings: Any, receiver: Receiver) -> list[ReceivedRequest]:
    """The Ops target channel: the webhook receiver, as the only alerting destination."""
    settings.OPS_ALERTING_ENABLED = True
    settings.OPS_ALERTING_WEBHOOK_URL = receiver.url("/hook")
    return receiver.requests


def test_synthetic_alert_triggered_from_the_checklist_then_acknowledged_passes_verify(
    staff_client: Client, ops_channel: list[ReceivedRequest]
) -> None:
    seed_vision_template()
    staff_client.post(f"{CHECKLIST_URL}start/", **HX)

    page = staff_client.post(f"{CHECKLIST_URL}synthetic-alert/", **HX).content.decode()

    assert "delivered. Acknowledge it from the target channel" in page
    assert len(ops_channel) == 1
    payload = ops_channel[0].json
    assert "vision" in json.dumps(payload)
    alert = Alert.objects.get(synthetic=True, planner_slug=PLANNER)
    acknowledge_alert(alert, actor="oncall@ops", channel=Alert.Channel.LINK)

    staff_client.post(f"{CHECKLIST_URL}verify/", **HX)

    item = RolloutChecklist.objects.get().items.get(key="synthetic-alert")
    assert item.status == ItemStatus.PASSED
    assert item.evidence_snapshot["acknowledged_by"] == "oncall@ops"
    assert ActionLogEntry.objects.filter(action="rollout-synthetic").exists()


def test_uploaded_html_evidence_is_downloaded_not_rendered(
    staff_client: Client, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    staff_client.post(f"{CHECKLIST_URL}start/", **HX)
    upload = SimpleUploadedFile("notes.html", b"<script>alert(1)</script>", "text/html")
    staff_client.post(f"{CHECKLIST_URL}items/deploy-artifacts/evidence/", {"file": upload}, **HX)

    served = staff_client.get(f"{CHECKLIST_URL}items/deploy-artifacts/file/")

    assert served["Content-Disposition"].startswith("attachment;")


def test_step_notes_are_recorded_and_the_note_is_served_as_markdown(staff_client: Client) -> None:
    staff_client.post(f"{CHECKLIST_URL}start/", **HX)

    saved = staff_client.post(
        f"{CHECKLIST_URL}notes/",
        {"files_touched": "planners/fiction/vision.py\n\n  README.md ", "follow_ups": "Tune"},
        **HX,
    ).content.decode()

    assert "Files touched and follow-ups saved." in saved
    checklist = RolloutChecklist.objects.get()
    assert checklist.files_touched == "planners/fiction/vision.py\nREADME.md"
    note = staff_client.get(f"{CHECKLIST_URL}step-note.md")
    assert note["Content-Type"].startswith("text/markdown")
    text = note.content.decode()
    assert text.startswith("# Step note: Vision Planner (`vision`) rollout to dev")
    assert "- `README.md`" in text
    assert "Files touched and follow-ups recorded" in text
    assert staff_client.get("/rollouts/vision/staging/step-note.md").status_code == 404


def test_gate_card_polls_its_countdown_while_the_watch_runs(
    staff_client: Client, staff_user: User, settings: Any
) -> None:
    signed_off_dev(staff_user, settings)
    page = staff_client.get(CHECKLIST_URL).content.decode()
    assert 'hx-get="/rollouts/vision/dev/gate/"' in page

    card = staff_client.get(f"{CHECKLIST_URL}gate/", **HX).content.decode()

    assert card.lstrip().startswith('<section id="gate"')
    assert 'data-watch="watching"' in card
    assert "Seen so far: 0 runs (3 needed), 0 failed, 0 alerts." in card
    assert "Why the gate is closed" in card
    assert staff_client.get("/rollouts/vision/staging/gate/").status_code == 404


def test_rollout_pages_show_the_firing_count_in_the_navigation(staff_client: Client) -> None:
    alert = acknowledged_synthetic_alert()
    Alert.objects.filter(pk=alert.pk).update(status=Alert.Status.FIRING)
    actions.get_or_create_checklist(PLANNER, "dev")
    for path in ("/rollouts/", f"/rollouts/{PLANNER}/dev/"):
        page = staff_client.get(path).content.decode()
        assert (
            '<span id="nav-firing-count" class="nav-count nav-count-firing" '
            'aria-label="1 firing">1</span>' in page
        ), path


def test_a_verified_items_snapshot_reads_as_json(staff_client: Client, settings: Any) -> None:
    checklist = verified_checklist(settings, "dev")
    snapshot = checklist.items.exclude(evidence_snapshot={}).first()
    assert snapshot is not None
    page = staff_client.get(f"/rollouts/{PLANNER}/dev/").content.decode()
    assert '<summary>Snapshot</summary><pre class="mono">{\n  &quot;' in page
    assert "&quot;passed&quot;: true" in page
    assert "True" not in page.split("<summary>Snapshot</summary>", 1)[1].split("</pre>", 1)[0]
