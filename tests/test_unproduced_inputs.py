"""Each item's unproduced inputs stay current as the plan's items are added, edited and deleted,
so the health report can read orphans from the flagged rows alone. The engine works them out
when a plan starts and when a phase adds items (its record step); the admin when it edits or
deletes one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cognition.agents.scripted import ScriptedAgent
from planners.fiction.scripted_replies import DEFAULT_REPLIES, VISION_REPLY
from planners.health import build_health_report
from planners.models import BacklogItem, BacklogStatus, PhaseCheckpoint, Plan, Project
from planners.pipeline.phase import run_item_phase
from planners.pipeline.plans import start_plan
from planners.pipeline.transitions import transition_backlog_item
from planners.pipeline.unproduced_inputs import refresh_all_plans, refresh_unproduced_inputs
from tests.factories.backlog import add_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan() -> Plan:
    project = Project.objects.create(title="The Salt Road")
    return Plan.objects.create(project=project, name="The Salt Road", branch="main")


def item(plan: Plan, backlog_id: str, **fields: Any) -> BacklogItem:
    return add_item(plan, backlog_id, **fields)


def stored(backlog_id: str) -> tuple[list[str], bool]:
    row = BacklogItem.objects.get(backlog_id=backlog_id)
    return row.unproduced_inputs, row.has_unproduced_inputs


def orphan_ids() -> list[str]:
    return [ref.backlog_id for ref in build_health_report().backlog.orphaned]


def test_a_started_plan_stores_what_its_first_items_wait_on() -> None:
    plan = start_plan(Project.objects.create(title="Grid Storage"), pipeline="nonfiction")

    assert plan.backlog_items.exists()
    assert BacklogItem.objects.filter(plan=plan, has_unproduced_inputs=True).count() == 0
    assert orphan_ids() == []


def _vision_listing(*entries: dict[str, Any]) -> ScriptedAgent:
    reply = json.loads(json.dumps(VISION_REPLY))
    reply["planningBacklog"] = list(entries)
    return ScriptedAgent(replies={**DEFAULT_REPLIES, "vision": json.dumps(reply)})


OUTLINE = {"id": "outline-core", "description": "Outline.", "inputs": ["vision"], "outputs": ["o"]}
DRAFT = {"id": "draft-open", "description": "Draft.", "inputs": ["o", "cast"], "outputs": ["d"]}


def test_a_phase_that_adds_items_stores_what_they_wait_on() -> None:
    plan = start_plan(Project.objects.create(title="The Salt Road"))
    vision = BacklogItem.objects.get(plan=plan, phase="vision")

    result = run_item_phase(vision, _vision_listing(OUTLINE, DRAFT), correlation_id="first")

    assert not isinstance(result, str)
    assert result.status == "completed"
    assert stored("outline-core") == ([], False)
    assert stored("draft-open") == (["cast"], True)
    assert orphan_ids() == ["draft-open"]

    # The next vision has the draft, still waiting to run, wait on a map instead of the cast.
    vision.refresh_from_db()
    transition_backlog_item(vision, BacklogStatus.PENDING, reason="resume")
    PhaseCheckpoint.objects.filter(backlog_item=vision).delete()
    redrafted = {**DRAFT, "inputs": ["o", "harbour-map"]}
    run_item_phase(vision, _vision_listing(OUTLINE, redrafted), correlation_id="second")
    assert stored("draft-open") == (["harbour-map"], True)


def test_status_changes_do_not_recompute_tokens(plan: Plan) -> None:
    waiting = item(plan, "draft-opening", inputs=["cast-bible"])
    with CaptureQueriesContext(connection) as queries:
        transition_backlog_item(waiting, BacklogStatus.IN_PROGRESS, reason="claim")
    assert not [q for q in queries.captured_queries if "unproduced_inputs" in q["sql"]]
    assert orphan_ids() == ["draft-opening"]


def test_finished_and_synthetic_items_are_not_orphans(plan: Plan) -> None:
    item(plan, "done", inputs=["nobody"], status=BacklogStatus.COMPLETE)
    item(plan, "synthetic-probe", inputs=["nobody"], synthetic=True)
    item(plan, "synthetic-producer", outputs=["made-by-a-probe"], synthetic=True)
    item(plan, "waits-on-probe", inputs=["made-by-a-probe"])

    # A synthetic item's output resolves nothing for a real one.
    assert orphan_ids() == ["waits-on-probe"]


def test_deleting_a_producer_in_the_admin_orphans_its_consumers(
    plan: Plan, client: Client, django_user_model: type[User]
) -> None:
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(admin)
    producer = item(plan, "outline", outputs=["outline"])
    item(plan, "draft-opening", inputs=["outline"])

    response = client.post(
        reverse("admin:planners_backlogitem_delete", args=[producer.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert orphan_ids() == ["draft-opening"]


def test_deleting_producers_in_bulk_from_the_admin_list(
    plan: Plan, client: Client, django_user_model: type[User]
) -> None:
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(admin)
    producers = [item(plan, f"outline-{n}", outputs=[f"outline-{n}"]) for n in range(2)]
    item(plan, "draft-opening", inputs=["outline-0", "outline-1"])

    client.post(
        reverse("admin:planners_backlogitem_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [p.pk for p in producers],
            "post": "yes",
        },
    )

    assert not BacklogItem.objects.filter(backlog_id__startswith="outline-").exists()
    assert stored("draft-opening") == (["outline-0", "outline-1"], True)


def test_bulk_loads_are_caught_up_by_a_full_refresh(plan: Plan) -> None:
    other = Plan.objects.create(
        project=Project.objects.create(title="Glass Harbour"), name="Glass Harbour"
    )
    BacklogItem.objects.bulk_create(
        [
            BacklogItem(plan=plan, backlog_id="a", phase="iterative", inputs=["x"]),
            BacklogItem(plan=plan, backlog_id="b", phase="iterative", outputs=["x"]),
            BacklogItem(plan=other, backlog_id="c", phase="iterative", inputs=["x"]),
        ]
    )
    assert orphan_ids() == []  # a bulk load the engine did not see

    assert refresh_all_plans() == 1
    assert orphan_ids() == ["c"]
    assert refresh_unproduced_inputs([plan.pk, other.pk]) == 0  # nothing left to change


def test_orphan_query_count_does_not_grow_with_the_backlog(plan: Plan) -> None:
    BacklogItem.objects.bulk_create(
        BacklogItem(plan=plan, backlog_id=f"pass-{n}", phase="iterative", inputs=[f"t-{n}"])
        for n in range(300)
    )
    refresh_all_plans()
    with CaptureQueriesContext(connection) as queries:
        report = build_health_report()
    assert report.backlog.orphaned_total == 300
    assert len(report.backlog.orphaned) == 20
    orphan_reads = [q for q in queries.captured_queries if "has_unproduced_inputs" in q["sql"]]
    assert len(orphan_reads) == 1


def test_editing_an_items_outputs_in_the_admin_refreshes_its_plan(
    plan: Plan, client: Client, django_user_model: type[User]
) -> None:
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(admin)
    producer = item(plan, "outline", outputs=["outline"])
    item(plan, "draft-opening", inputs=["outline"])
    url = reverse("admin:planners_backlogitem_change", args=[producer.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {name: "" if value is None else value for name, value in data.items()}
    data["outputs"] = '["outline-v2"]'
    data["inputs"] = "[]"

    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert stored("draft-opening") == (["outline"], True)
    assert orphan_ids() == ["draft-opening"]
