"""Rollout admin: checklists with their items inline under the same rules as the console,
read-only sign-offs, and the verify action."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from planners.models.rollout import SignOff
from planners.rollouts import actions
from tests.factories.rollouts import PLANNER, make_live_evidence, signed_off_dev

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_olivia(client: Client, staff_user: User) -> Client:
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    return client


def test_admin_lists_checklists_and_shows_items_inline(
    admin_client_olivia: Client, staff_user: User, settings: Any
) -> None:
    checklist = signed_off_dev(staff_user, settings)
    actions.get_or_create_checklist(PLANNER, "staging")

    changelist = admin_client_olivia.get(reverse("admin:planners_rolloutchecklist_changelist"))
    assert changelist.status_code == 200
    assert "delete_selected" not in changelist.content.decode()
    change = admin_client_olivia.get(
        reverse("admin:planners_rolloutchecklist_change", args=[checklist.pk])
    )
    page = change.content.decode()
    assert "Planner tool + parameters derived from PlannerBase." in page
    assert "olivia on" in page  # the sign-off, read-only
    assert "Watching until" in page  # the watch its sign-off started
    delete = admin_client_olivia.get(
        reverse("admin:planners_rolloutchecklist_delete", args=[checklist.pk])
    )
    assert delete.status_code == 403


def test_admin_sign_offs_are_read_only(
    admin_client_olivia: Client, staff_user: User, settings: Any
) -> None:
    record = SignOff.objects.get(checklist=signed_off_dev(staff_user, settings))
    url = reverse("admin:planners_signoff_change", args=[record.pk])

    view = admin_client_olivia.get(url)
    assert view.status_code == 200
    assert 'name="_save"' not in view.content.decode()
    admin_client_olivia.post(url, {"note": "rewritten"})
    assert SignOff.objects.get(pk=record.pk).note == "dev is good."
    delete = admin_client_olivia.get(reverse("admin:planners_signoff_delete", args=[record.pk]))
    assert delete.status_code == 403
    assert admin_client_olivia.get(reverse("admin:planners_signoff_add")).status_code == 403


def test_admin_item_edit_follows_the_rules(admin_client_olivia: Client) -> None:
    checklist, _ = actions.get_or_create_checklist(PLANNER, "dev")
    items = list(checklist.items.all())
    url = reverse("admin:planners_rolloutchecklist_change", args=[checklist.pk])

    def post(changes: dict[str, dict[str, str]]) -> str:
        data = {
            "files_touched": "",
            "follow_ups": "",
            "items-TOTAL_FORMS": str(len(items)),
            "items-INITIAL_FORMS": str(len(items)),
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "0",
        }
        for n, item in enumerate(items):
            data[f"items-{n}-id"] = str(item.pk)
            data[f"items-{n}-checklist"] = str(checklist.pk)
            values = {"status": item.status, "waiver_reason": "", "evidence_text": ""}
            values.update(changes.get(item.key, {}))
            for field, value in values.items():
                data[f"items-{n}-{field}"] = value
            data[f"items-{n}-evidence_link"] = ""
        return admin_client_olivia.post(url, data).content.decode()

    refused = post({"seeder-ran": {"status": "passed"}})
    assert "verified by the system" in refused
    assert checklist.items.get(key="seeder-ran").status == "pending"
    not_waived = post({"synthetic-alert": {"status": "waived", "waiver_reason": "Pager down"}})
    assert "cannot be waived or marked by hand" in not_waived
    assert checklist.items.get(key="synthetic-alert").status == "pending"

    post({"docs-updated": {"status": "waived", "waiver_reason": "Docs next sprint"}})
    docs = checklist.items.get(key="docs-updated")
    assert (docs.status, docs.checked_by, docs.checked_via) == ("waived", "olivia", "admin")


def test_admin_verify_action_runs_the_checks(admin_client_olivia: Client, settings: Any) -> None:
    make_live_evidence(settings)
    checklist, _ = actions.get_or_create_checklist(PLANNER, "dev")

    response = admin_client_olivia.post(
        reverse("admin:planners_rolloutchecklist_changelist"),
        {"action": "verify_selected", "_selected_action": [str(checklist.pk)]},
        follow=True,
    )

    assert "Vision / dev: 6 of 6 checks passed." in response.content.decode()
    assert checklist.items.get(key="synthetic-alert").checked_via == "admin"
