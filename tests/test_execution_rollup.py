"""All-time run totals come from the roll-up plus the runs after its mark, and always equal what
the runs themselves say: before, after and across roll-ups, per plan and overall."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from planners.execution_rollup import roll_up_executions, settle_period
from planners.health import build_health_report
from planners.models import (
    ExecutionRollup,
    ExecutionRollupMark,
    Plan,
    PlannerExecution,
    Project,
)

pytestmark = pytest.mark.django_db


def make_plan(title: str) -> Plan:
    project = Project.objects.create(title=title)
    return Plan.objects.create(project=project, name=title, branch="main")


def run(
    plan: Plan | None,
    outcome: str = "success",
    *,
    hours_ago: float,
    planner: str = "vision",
    **fields: object,
) -> PlannerExecution:
    at = timezone.now() - timedelta(hours=hours_ago)
    execution = PlannerExecution.objects.create(
        planner_slug=planner,
        outcome=outcome,
        environment="dev",
        correlation_id="run",
        plan=plan,
        started_at=at,
        finished_at=at,
        prompt_tokens=100,
        completion_tokens=10,
        **fields,
    )
    PlannerExecution.objects.filter(pk=execution.pk).update(created_at=at)
    return execution


def totals(plan: Plan | None = None) -> tuple[int, dict[str, int], int, int]:
    telemetry = build_health_report(plan_id=plan.pk if plan else None).telemetry
    by_outcome = {k: v for k, v in telemetry.executions_by_outcome.items() if v}
    return (
        telemetry.executions_total,
        by_outcome,
        telemetry.executions_in_window,
        telemetry.tokens.prompt,
    )


def truth(plan: Plan | None = None) -> tuple[int, dict[str, int], int, int]:
    runs = PlannerExecution.objects.filter(synthetic=False)
    if plan is not None:
        runs = runs.filter(plan=plan)
    window = timezone.now() - timedelta(days=1)
    return (
        runs.count(),
        dict(Counter(runs.values_list("outcome", flat=True))),
        runs.filter(created_at__gte=window).count(),
        sum(runs.values_list("prompt_tokens", flat=True)),
    )


@pytest.fixture
def history() -> tuple[Plan, Plan]:
    salt, glass = make_plan("The Salt Road"), make_plan("Glass Harbour")
    for days in (40, 20, 3):
        run(salt, hours_ago=24 * days)
        run(glass, "failed", hours_ago=24 * days, planner="iterative")
    run(None, "throttled", hours_ago=24 * 10, quota_limit="max_tokens")
    run(salt, "partial", hours_ago=24 * 10, synthetic=True)  # kept out
    run(salt, hours_ago=2)  # recent, after any mark
    run(glass, "failed", hours_ago=0.1)
    return salt, glass


def test_totals_agree_with_the_runs_before_and_after_a_roll_up(
    history: tuple[Plan, Plan],
) -> None:
    salt, glass = history
    before = [totals(), totals(salt), totals(glass)]
    assert before == [truth(), truth(salt), truth(glass)]

    added = roll_up_executions()

    assert added == 8  # all real runs older than the settle period
    assert ExecutionRollup.objects.exists()
    assert [totals(), totals(salt), totals(glass)] == before


def test_repeating_the_roll_up_counts_nothing_twice(
    history: tuple[Plan, Plan],
) -> None:
    roll_up_executions()
    assert roll_up_executions() == 0
    later = timezone.now() + timedelta(hours=3)
    assert roll_up_executions(now=later) == 1  # the 2-hour-old run has settled by then
    assert totals() == truth()


def test_runs_after_the_mark_are_added_on_read_and_rolled_up_later(
    history: tuple[Plan, Plan],
) -> None:
    salt, _ = history
    roll_up_executions()
    run(salt, "partial", hours_ago=0)
    assert totals(salt) == truth(salt)

    roll_up_executions(now=timezone.now() + settle_period() + timedelta(minutes=1))
    mark = ExecutionRollupMark.objects.get().rolled_up_before
    assert mark is not None
    assert mark > timezone.now()
    assert totals(salt) == truth(salt)
    assert totals() == truth()


def test_totals_outlive_a_deleted_plan(history: tuple[Plan, Plan]) -> None:
    _, glass = history
    roll_up_executions()
    glass.delete()  # its runs stay, unlinked
    assert totals() == truth()


def test_the_report_reads_totals_in_one_statement(
    history: tuple[Plan, Plan],
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as before:
        build_health_report()
    roll_up_executions()
    with CaptureQueriesContext(connection) as after:
        build_health_report()
    assert len(after) == len(before)


def test_a_roll_up_that_fell_behind_the_window_still_counts_everything(
    history: tuple[Plan, Plan],
) -> None:
    salt, glass = history
    # The beat last ran ten days ago: the runs of three days ago are after its mark but
    # before the window, and are read from the runs themselves.
    roll_up_executions(now=timezone.now() - timedelta(days=10))
    assert ExecutionRollup.objects.exists()
    assert [totals(), totals(salt), totals(glass)] == [truth(), truth(salt), truth(glass)]
