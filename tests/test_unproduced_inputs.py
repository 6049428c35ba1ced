"""Each item's unproduced inputs stay current as the plan's items are added, edited and deleted,
so the health report can read orphans from the flagged rows alone."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from planners.health import build_health_report
from planners.models import BacklogItem, BacklogStatus, Plan, Project
from planners.pipeline.transitions import transition_backlog_item
from planners.pipeline.unproduced_inputs import (
    refresh_all_plans,
    refresh_deferred,
    refresh_unproduced_inputs,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan() -> Plan:
    project = Project.objects.create(title="The Salt Road")
    return Plan.objects.create(project=project, name="The Salt Road", branch="main")


def item(plan: Plan, backlog_id: str, **fields: object) -> BacklogItem:
    return BacklogItem.objects.create(plan=plan, backlog_id=backlog_id, phase="iterative", **fields)


def stored(backlog_id: str) -> tuple[list[str], bool]:
    row = BacklogItem.objects.get(backlog_id=backlog_id)
    return row.unproduced_inputs, row.has_unproduced_inputs


def orphan_ids() -> list[str]:
    return [ref.backlog_id for ref in build_health_report().backlog.orphaned]


def test_a_producer_added_later_resolves_the_waiting_item(plan: Plan) -> None:
    item(plan, "draft-opening", inputs=["outline", "cast-bible"])
    assert stored("draft-opening") == (["cast-bible", "outline"], True)

    item(plan, "outline", outputs=["outline"])
    assert stored("draft-opening") == (["cast-bible"], True)

    item(plan, "cast", outputs=["cast-bible"])
    assert stored("draft-opening") == ([], False)
    assert orphan_ids() == []


def test_editing_tokens_refreshes_the_plan(plan: Plan) -> None:
    producer = item(plan, "outline", outputs=["outline"])
    item(plan, "draft-opening", inputs=["outline"])
    assert orphan_ids() == []

    producer.outputs = ["outline-v2"]
    producer.save(update_fields=["outputs", "updated_at"])

    assert orphan_ids() == ["draft-opening"]
    assert build_health_report().backlog.orphaned[0].missing_inputs == ("outline",)


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


def test_a_deferred_block_refreshes_each_plan_once(plan: Plan) -> None:
    with CaptureQueriesContext(connection) as queries, refresh_deferred():
        for n in range(5):
            item(plan, f"scene-{n}", inputs=[f"scroll-{n}"], outputs=[f"scene-{n}"])
    reads = [q for q in queries.captured_queries if '"unproduced_inputs"' in q["sql"]]
    assert len([q for q in reads if q["sql"].lstrip().upper().startswith("SELECT")]) == 1
    assert BacklogItem.objects.filter(has_unproduced_inputs=True).count() == 5


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
    assert orphan_ids() == []  # bulk_create sent no signals

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


def test_the_vision_sync_stores_unproduced_inputs_for_the_items_it_inserts(
    plan: Plan,
) -> None:
    from planners.fiction.materialise.backlog import sync_backlog
    from planners.fiction.schemas import BacklogEntry

    vision = BacklogItem.objects.create(
        plan=plan, backlog_id="vision-plan", phase="vision", outputs=["vision"]
    )
    entries = [
        BacklogEntry(id="outline-core", description="Outline.", inputs=["vision"], outputs=["o"]),
        BacklogEntry(id="draft-open", description="Draft.", inputs=["o", "cast"], outputs=["d"]),
    ]
    sync_backlog(vision, entries, actor="test")

    assert stored("outline-core") == ([], False)
    assert stored("draft-open") == (["cast"], True)

    # The next sync drops the never-run outline: the draft now waits on nobody for "o" too.
    sync_backlog(vision, entries[1:], actor="test")
    assert stored("draft-open") == (["cast", "o"], True)
