"""Bounded history: old rows go in batches, and what is still needed stays however old.

Still needed: everything of a plan that has not finished, the rows an open rollout checklist
names as evidence, an unresolved alert's events and its deliveries' attempts, a delivery still
being retried, and runs not yet rolled up (the health report's all-time totals count them).
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cognition.retention import BatchBounds, PruneResult
from opsalerts.models import Alert, AlertEvent, Delivery, DeliveryAttempt
from planners.execution_rollup import roll_up_executions
from planners.health import build_health_report
from planners.models import (
    BacklogItem,
    BacklogTransition,
    PhaseTranscript,
    Plan,
    PlannerExecution,
    Project,
    TelemetryEvent,
)
from planners.rollouts import actions
from planners.rollouts.retention import prune_history
from tests.factories.rollouts import make_live_evidence, pass_manual_items
from tests.startup import start_with

pytestmark = pytest.mark.django_db

OLD = 400  # days: older than every default retention
RECENT = 2


def days_ago(days: float) -> Any:
    return timezone.now() - timedelta(days=days)


def age(row: Model, days: float) -> None:
    type(row)._default_manager.filter(pk=row.pk).update(created_at=days_ago(days))


def make_plan(title: str, status: str) -> Plan:
    project = Project.objects.create(title=title)
    return Plan.objects.create(project=project, name=title, status=status)


def plan_history(plan: Plan, *, days: float, runs: int = 1) -> BacklogItem:
    """An item with one transition, and per run an execution, its transcript and an event."""
    item = BacklogItem.objects.create(
        plan=plan, backlog_id=f"outline-{plan.pk}-{days}", phase="vision"
    )
    transition = BacklogTransition.objects.create(
        item=item, plan=plan, to_status="complete", reason="phase-complete"
    )
    age(transition, days)
    for n in range(runs):
        execution = PlannerExecution.objects.create(
            planner_slug="vision",
            outcome="success",
            environment="dev",
            correlation_id=f"{plan.name}-{n}",
            plan=plan,
            backlog_item=item,
            started_at=days_ago(days),
            finished_at=days_ago(days),
            prompt_tokens=120,
            completion_tokens=30,
        )
        age(execution, days)
        transcript = PhaseTranscript.objects.create(
            plan=plan, phase="vision", backlog_item=item, execution=execution, response="{}"
        )
        age(transcript, days)
        event = TelemetryEvent.objects.create(
            name="planner.completed",
            planner_slug="vision",
            execution=execution,
            correlation_id=execution.correlation_id,
            environment="dev",
        )
        age(event, days)
    return item


def planless_run(*, days: float) -> PlannerExecution:
    """A run outside any plan (a direct planner call) and an event outside any run."""
    execution = PlannerExecution.objects.create(
        planner_slug="iterative",
        outcome="failed",
        environment="dev",
        correlation_id="planless",
        started_at=days_ago(days),
        finished_at=days_ago(days),
    )
    age(execution, days)
    event = TelemetryEvent.objects.create(
        name="planner.failed", planner_slug="iterative", correlation_id="loose", environment="dev"
    )
    age(event, days)
    return execution


def alert_history(key: str, status: str, *, days: float, delivery: str = "sent") -> Alert:
    """An alert with one event and one delivery with one attempt, all ``days`` old."""
    at = days_ago(days)
    alert = Alert.objects.create(
        dedup_key=f"{key}@dev",
        alert_id=key,
        environment="dev",
        status=status,
        severity="warning",
        title=key,
        first_seen=at,
        last_seen=at,
    )
    age(AlertEvent.objects.create(alert=alert, kind="fired"), days)
    sent = Delivery.objects.create(
        webhook_url="http://127.0.0.1:9/hook", webhook_id=f"msg_{key}", payload={}, status=delivery
    )
    sent.alerts.add(alert)
    age(sent, days)
    age(DeliveryAttempt.objects.create(delivery=sent, number=1, response_code=200), days)
    return alert


def rolled_up() -> None:
    """The beat has rolled up every settled run (the fixtures' runs are days old)."""
    roll_up_executions()


def by_kind(results: list[PruneResult]) -> dict[str, PruneResult]:
    return {result.kind: result for result in results}


def counts() -> dict[str, int]:
    return {
        "transcripts": PhaseTranscript.objects.count(),
        "transitions": BacklogTransition.objects.count(),
        "executions": PlannerExecution.objects.count(),
        "telemetry events": TelemetryEvent.objects.count(),
        "alert events": AlertEvent.objects.count(),
        "delivery attempts": DeliveryAttempt.objects.count(),
        "deliveries": Delivery.objects.count(),
    }


@pytest.fixture
def salt_road() -> Plan:
    return make_plan("The Salt Road", Plan.Status.COMPLETE)


@pytest.fixture
def glass_harbour() -> Plan:
    return make_plan("Glass Harbour", Plan.Status.IN_PROGRESS)


def test_old_history_of_a_complete_plan_is_deleted(salt_road: Plan) -> None:
    plan_history(salt_road, days=OLD)
    planless_run(days=OLD)
    rolled_up()

    results = by_kind(prune_history())

    assert counts() == dict.fromkeys(counts(), 0)
    assert {kind: r.deleted for kind, r in results.items()} == {
        "transcripts": 1,
        "transitions": 1,
        "telemetry events": 2,  # the plan run's, and one outside any run
        "executions": 2,
        "alert events": 0,
        "delivery attempts": 0,
        "deliveries": 0,
    }


def test_recent_history_of_a_complete_plan_stays(salt_road: Plan) -> None:
    plan_history(salt_road, days=RECENT)
    rolled_up()
    before = counts()

    prune_history()

    assert counts() == before


def test_history_of_an_unfinished_plan_stays_however_old(
    salt_road: Plan, glass_harbour: Plan
) -> None:
    plan_history(salt_road, days=OLD)
    plan_history(glass_harbour, days=OLD)
    rolled_up()

    results = by_kind(prune_history())

    assert PhaseTranscript.objects.get().plan == glass_harbour
    assert BacklogTransition.objects.get().plan == glass_harbour
    assert PlannerExecution.objects.get().plan == glass_harbour
    assert TelemetryEvent.objects.get().execution.plan == glass_harbour  # type: ignore[union-attr]
    for kind in ("transcripts", "transitions", "telemetry events", "executions"):
        assert results[kind].deleted == 1
        assert results[kind].kept == {"plan not complete": 1}


def test_runs_not_yet_rolled_up_stay(salt_road: Plan) -> None:
    plan_history(salt_road, days=OLD)  # no roll-up has run

    results = by_kind(prune_history())

    assert PlannerExecution.objects.count() == 1
    assert results["executions"].kept == {"not yet rolled up": 1}
    assert results["transcripts"].deleted == 1  # transcripts do not count towards totals


def test_health_report_all_time_totals_are_unchanged_by_pruning_runs(
    salt_road: Plan, glass_harbour: Plan
) -> None:
    plan_history(salt_road, days=OLD, runs=3)
    plan_history(salt_road, days=RECENT)
    plan_history(glass_harbour, days=OLD, runs=2)
    rolled_up()

    def all_time(plan: Plan | None = None) -> tuple[int, dict[str, int], int, int]:
        telemetry = build_health_report(plan_id=plan.pk if plan else None).telemetry
        return (
            telemetry.executions_total,
            dict(telemetry.executions_by_outcome),
            telemetry.tokens.prompt,
            telemetry.tokens.completion,
        )

    before = [all_time(), all_time(salt_road), all_time(glass_harbour)]

    assert by_kind(prune_history())["executions"].deleted == 3

    assert PlannerExecution.objects.count() == 3
    assert [all_time(), all_time(salt_road), all_time(glass_harbour)] == before
    assert before[0][0] == 6


def test_evidence_named_by_an_open_checklist_stays_until_it_is_signed_off(
    settings: Any, staff_user: Any
) -> None:
    make_live_evidence(settings)  # a real Vision run and an acknowledged synthetic alert
    checklist, _ = actions.get_or_create_checklist("vision", "dev", actor="olivia")
    actions.verify_checklist(checklist, actor="olivia")
    execution = PlannerExecution.objects.get()
    alert = Alert.objects.get()
    # Months later: the run is rolled up and the alert resolved; both are past retention.
    TelemetryEvent.objects.filter(execution=execution).update(created_at=days_ago(OLD))
    age(execution, OLD)
    rolled_up()
    age(AlertEvent.objects.create(alert=alert, kind="acknowledged"), OLD)
    Alert.objects.filter(pk=alert.pk).update(status=Alert.Status.RESOLVED)

    results = by_kind(prune_history())

    assert PlannerExecution.objects.filter(pk=execution.pk).exists()
    assert TelemetryEvent.objects.filter(execution=execution).exists()
    assert AlertEvent.objects.filter(alert=alert).exists()
    evidence = "open rollout checklist evidence"
    assert results["executions"].kept == {evidence: 1}
    assert results["alert events"].kept == {evidence: 1}

    pass_manual_items(checklist)
    actions.sign_off(checklist, owner=staff_user, deployment_date=timezone.localdate())
    prune_history()

    assert not PlannerExecution.objects.exists()
    assert not AlertEvent.objects.exists()


def test_evidence_imported_from_another_deployment_keeps_nothing_here(
    salt_road: Plan,
) -> None:
    plan_history(salt_road, days=OLD)
    rolled_up()
    execution = PlannerExecution.objects.get()
    checklist, _ = actions.get_or_create_checklist("vision", "staging", actor="olivia")
    checklist.items.filter(verification="pipeline_run_completed").update(
        evidence_snapshot={"environment": "staging", "execution_id": execution.pk}
    )

    prune_history()

    assert not PlannerExecution.objects.exists()  # that id names a staging row, not ours


def test_unresolved_alerts_keep_their_events_and_attempts() -> None:
    alert_history("backlog:stale", Alert.Status.FIRING, days=OLD)
    alert_history("lore:blocked", Alert.Status.ACKNOWLEDGED, days=OLD)
    alert_history("planner:recent-failures", Alert.Status.RESOLVED, days=OLD)
    alert_history("backlog:orphaned", Alert.Status.RESOLVED, days=OLD, delivery="failed")

    results = by_kind(prune_history())

    assert set(AlertEvent.objects.values_list("alert__alert_id", flat=True)) == {
        "backlog:stale",
        "lore:blocked",
    }
    assert set(DeliveryAttempt.objects.values_list("delivery__webhook_id", flat=True)) == {
        "msg_backlog:stale",
        "msg_lore:blocked",
        "msg_backlog:orphaned",
    }
    assert results["alert events"].kept == {"alert not resolved": 2}
    assert results["delivery attempts"].kept == {
        "alert not resolved": 2,
        "delivery still being retried": 1,
    }
    # The resolved alert's notification goes too; the others are still needed.
    assert set(Delivery.objects.values_list("webhook_id", flat=True)) == {
        "msg_backlog:stale",
        "msg_lore:blocked",
        "msg_backlog:orphaned",
    }
    assert results["deliveries"].deleted == 1
    assert results["deliveries"].kept == results["delivery attempts"].kept
    assert Alert.objects.count() == 4  # alerts themselves stay: one row per dedup key


def test_small_batches_delete_everything_in_several_batches(salt_road: Plan) -> None:
    plan_history(salt_road, days=OLD, runs=5)
    rolled_up()

    results = by_kind(prune_history(bounds=BatchBounds(size=2, max_batches=100)))

    assert results["executions"].deleted == 5
    assert results["executions"].batches == 3
    assert not PlannerExecution.objects.exists()


def test_the_batch_bound_leaves_the_rest_for_the_next_run(salt_road: Plan) -> None:
    plan_history(salt_road, days=OLD, runs=5)
    rolled_up()

    first = by_kind(prune_history(bounds=BatchBounds(size=2, max_batches=1)))["transcripts"]
    assert (first.deleted, first.deferred) == (2, 3)
    assert PhaseTranscript.objects.count() == 3


def test_the_batch_size_setting_bounds_each_delete(settings: Any, salt_road: Plan) -> None:
    settings.RETAIN_BATCH_SIZE = 2
    plan_history(salt_road, days=OLD, runs=5)
    rolled_up()

    assert by_kind(prune_history())["transcripts"].batches == 3


def test_dry_run_deletes_nothing_and_reports_the_same_counts(
    salt_road: Plan, glass_harbour: Plan
) -> None:
    plan_history(salt_road, days=OLD, runs=3)
    plan_history(glass_harbour, days=OLD)
    alert_history("backlog:stale", Alert.Status.FIRING, days=OLD)
    alert_history("planner:recent-failures", Alert.Status.RESOLVED, days=OLD)
    rolled_up()
    before = counts()
    bounds = BatchBounds(size=2, max_batches=100)

    dry = prune_history(dry_run=True, bounds=bounds)
    assert counts() == before

    real = prune_history(bounds=bounds)
    assert [(r.kind, r.deleted, r.kept, r.batches) for r in dry] == [
        (r.kind, r.deleted, r.kept, r.batches) for r in real
    ]
    assert all(r.dry_run for r in dry)
    assert sum(r.deleted for r in real) == sum(before.values()) - sum(counts().values())


def test_pruning_costs_statements_per_batch_not_per_row() -> None:
    def statements(runs: int, batch: int) -> int:
        plan_history(make_plan(f"The Salt Road, {runs} runs", "complete"), days=OLD, runs=runs)
        alert_history(f"alert-{runs}", Alert.Status.RESOLVED, days=OLD)
        rolled_up()
        with CaptureQueriesContext(connection) as queries:
            prune_history(bounds=BatchBounds(size=batch, max_batches=100))
        assert counts() == dict.fromkeys(counts(), 0)
        return len(queries)

    # Two batches of executions, transcripts and events either way; one of the rest
    # (a delivery takes its attempts and its alert links with it).
    assert statements(runs=4, batch=3) == statements(runs=12, batch=9) == 38


def test_command_prints_each_kind_and_what_it_kept(salt_road: Plan, glass_harbour: Plan) -> None:
    plan_history(salt_road, days=OLD)
    plan_history(glass_harbour, days=OLD)
    rolled_up()
    out = StringIO()

    call_command("prune_history", "--dry-run", stdout=out)

    assert out.getvalue().splitlines() == [
        "transcripts: would delete 1 older than 90 days; "
        "kept 1 still needed (plan not complete: 1)",
        "transitions: would delete 1 older than 180 days; "
        "kept 1 still needed (plan not complete: 1)",
        "telemetry events: would delete 1 older than 90 days; "
        "kept 1 still needed (plan not complete: 1)",
        "executions: would delete 1 older than 90 days; kept 1 still needed (plan not complete: 1)",
        "alert events: would delete 0 older than 180 days",
        "delivery attempts: would delete 0 older than 90 days",
        "deliveries: would delete 0 older than 90 days",
    ]
    assert PhaseTranscript.objects.count() == 2

    call_command("prune_history", stdout=out)
    assert PhaseTranscript.objects.count() == 1
    assert "transcripts: deleted 1 older than 90 days" in out.getvalue()


def test_the_beat_prunes_history_daily(salt_road: Plan, settings: Any) -> None:
    from planners.rollouts.tasks import prune_history as task

    entry = settings.CELERY_BEAT_SCHEDULE["prune-history"]
    assert entry == {"task": "planners.rollouts.tasks.prune_history", "schedule": 86400.0}
    plan_history(salt_road, days=OLD)
    rolled_up()

    assert task.name == entry["task"]
    assert task.apply().get()["transcripts"] == 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"RETAIN_TRANSCRIPTS_DAYS": "0"},
            "RETAIN_TRANSCRIPTS_DAYS: must be at least 1, got 0.",
        ),
        (
            {"RETAIN_EXECUTIONS_DAYS": "-5"},
            "RETAIN_EXECUTIONS_DAYS: must be at least 1, got -5.",
        ),
        (
            {"RETAIN_ALERT_EVENTS_DAYS": "forever"},
            "RETAIN_ALERT_EVENTS_DAYS: expected a whole number, got 'forever'.",
        ),
        ({"RETAIN_BATCH_SIZE": "0"}, "RETAIN_BATCH_SIZE: must be at least 1, got 0."),
    ],
)
def test_bad_retention_value_stops_start_up_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    result = start_with(**env)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].endswith(message)
