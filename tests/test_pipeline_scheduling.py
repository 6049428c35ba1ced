"""Which backlog items are ready, how they are claimed, and what that says about the plan."""

from __future__ import annotations

from unittest import mock

import pytest

from planners.fiction.phases import Phase
from planners.models import BacklogItem, BacklogStatus, Plan, Project
from planners.pipeline.scheduling import dependency_map, ready_items, schedule_ready_items


@pytest.fixture
def plan() -> Plan:
    project = Project.objects.create(title="The Lantern Archive")
    return Plan.objects.create(project=project, name="Lantern main", branch="main")


def add_item(
    plan: Plan,
    backlog_id: str,
    *,
    inputs: list[str],
    outputs: list[str],
    status: str = BacklogStatus.PENDING,
    phase: str = Phase.ITERATIVE,
    synthetic: bool = False,
) -> BacklogItem:
    return BacklogItem.objects.create(
        plan=plan,
        backlog_id=backlog_id,
        phase=phase,
        inputs=inputs,
        outputs=outputs,
        status=status,
        synthetic=synthetic,
        position=BacklogItem.objects.filter(plan=plan).count(),
    )


@pytest.fixture
def diamond(plan: Plan) -> dict[str, BacklogItem]:
    """vision → (conflicts, cast-pass) → blueprint: two independent items in the middle."""
    return {
        "vision": add_item(
            plan, "vision-plan", inputs=[], outputs=["vision"], status=BacklogStatus.COMPLETE
        ),
        "conflicts": add_item(
            plan, "outline-core-conflicts", inputs=["vision"], outputs=["core-conflicts"]
        ),
        "cast": add_item(plan, "cast-pass", inputs=["vision"], outputs=["cast-notes"]),
        "blueprint": add_item(
            plan,
            "chapter-one-blueprint",
            inputs=["core-conflicts", "cast-notes"],
            outputs=["chapter-one-blueprint"],
            phase=Phase.CHAPTER_ARCHITECT,
        ),
    }


@pytest.mark.django_db
def test_item_depends_on_the_items_producing_its_inputs(
    diamond: dict[str, BacklogItem],
) -> None:
    deps = dependency_map(list(BacklogItem.objects.all()))

    assert deps[diamond["blueprint"].pk] == {diamond["conflicts"].pk, diamond["cast"].pk}
    assert deps[diamond["conflicts"].pk] == {diamond["vision"].pk}
    assert deps[diamond["vision"].pk] == set()


@pytest.mark.django_db
def test_input_nobody_produces_is_an_external_input(plan: Plan) -> None:
    notes = add_item(plan, "world-notes-pass", inputs=["author-notes"], outputs=["world"])

    assert ready_items(plan) == [notes]


@pytest.mark.django_db
def test_every_independent_ready_item_is_claimed_and_queued_after_commit(
    plan: Plan, diamond: dict[str, BacklogItem], django_capture_on_commit_callbacks
) -> None:
    with (
        mock.patch("planners.pipeline.scheduling._enqueue") as enqueue,
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        claimed = schedule_ready_items(plan, actor="olivia")
        assert enqueue.call_count == 0, "nothing may be queued before the commit"

    assert {item.backlog_id for item in claimed} == {"outline-core-conflicts", "cast-pass"}
    assert len(callbacks) == 2
    for item in claimed:
        item.refresh_from_db()
        assert item.status == BacklogStatus.IN_PROGRESS
        assert item.transitions.get().reason == "phase-start"
    diamond["blueprint"].refresh_from_db()
    assert diamond["blueprint"].status == BacklogStatus.PENDING
    plan.refresh_from_db()
    assert plan.status == Plan.Status.IN_PROGRESS


@pytest.mark.django_db
def test_second_scheduler_claims_nothing_already_claimed(
    plan: Plan, diamond: dict[str, BacklogItem]
) -> None:
    with mock.patch("planners.pipeline.scheduling._enqueue"):
        first = schedule_ready_items(plan, actor="worker")
        second = schedule_ready_items(plan, actor="worker")

    assert len(first) == 2
    assert second == []


@pytest.mark.django_db
def test_item_waits_until_all_its_dependencies_are_complete(
    plan: Plan, diamond: dict[str, BacklogItem]
) -> None:
    BacklogItem.objects.filter(pk=diamond["conflicts"].pk).update(status=BacklogStatus.COMPLETE)
    assert diamond["blueprint"] not in ready_items(plan)

    BacklogItem.objects.filter(pk=diamond["cast"].pk).update(status=BacklogStatus.COMPLETE)
    assert ready_items(plan) == [diamond["blueprint"]]


@pytest.mark.django_db
def test_plan_is_blocked_when_nothing_can_make_progress(
    plan: Plan, diamond: dict[str, BacklogItem]
) -> None:
    BacklogItem.objects.filter(pk=diamond["conflicts"].pk).update(status=BacklogStatus.BLOCKED)
    BacklogItem.objects.filter(pk=diamond["cast"].pk).update(status=BacklogStatus.COMPLETE)

    with mock.patch("planners.pipeline.scheduling._enqueue"):
        assert schedule_ready_items(plan, actor="worker") == []

    plan.refresh_from_db()
    assert plan.status == Plan.Status.BLOCKED


@pytest.mark.django_db
def test_plan_is_complete_when_every_real_item_is_complete(plan: Plan) -> None:
    add_item(plan, "vision-plan", inputs=[], outputs=["vision"], status=BacklogStatus.COMPLETE)
    add_item(
        plan,
        "synthetic-stale-probe",
        inputs=[],
        outputs=[],
        status=BacklogStatus.IN_PROGRESS,
        synthetic=True,
    )

    with mock.patch("planners.pipeline.scheduling._enqueue"):
        schedule_ready_items(plan, actor="worker")

    plan.refresh_from_db()
    assert plan.status == Plan.Status.COMPLETE


@pytest.mark.django_db
def test_synthetic_items_are_never_scheduled(plan: Plan) -> None:
    add_item(plan, "synthetic-probe", inputs=[], outputs=[], synthetic=True)

    assert ready_items(plan) == []
