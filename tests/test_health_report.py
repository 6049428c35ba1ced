"""The planner health report: every alert of design.md §4, its status rules and its JSON form."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries, Settings

from cognition.models import ProcessHeartbeat, PromptTemplate
from planners.health import HealthStatus, PlannerHealthReport, Severity, build_health_report
from planners.health.planners import catalog_planners
from planners.models import (
    ActionLogEntry,
    BacklogItem,
    BacklogStatus,
    BacklogTransition,
    ContractDriftEvent,
    LoreRequirement,
    Plan,
    PlannerExecution,
    Project,
)
from planners.pipeline.transitions import transition_backlog_item
from planners.pipeline.unproduced_inputs import refresh_unproduced_inputs
from tests.factories.backlog import add_item, seed_templates

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded() -> None:
    seed_templates()


@pytest.fixture
def plan() -> Plan:
    project = Project.objects.create(title="The Salt Road", description="A caravan epic.")
    return Plan.objects.create(project=project, name="The Salt Road", branch="main")


def add_execution(
    planner: str = "vision",
    outcome: str = "success",
    *,
    plan: Plan | None = None,
    hours_ago: float = 0,
    **fields: object,
) -> PlannerExecution:
    at = timezone.now() - timedelta(hours=hours_ago)
    execution = PlannerExecution.objects.create(
        planner_slug=planner,
        outcome=outcome,
        environment="dev",
        correlation_id=f"run-{planner}-{outcome}",
        plan=plan,
        started_at=at,
        finished_at=at,
        **fields,
    )
    PlannerExecution.objects.filter(pk=execution.pk).update(created_at=at)
    return execution


def alert_ids(report: PlannerHealthReport) -> set[str]:
    return {a.id for a in report.alerts}


def test_fresh_install_is_healthy_with_no_executions_info(seeded: None) -> None:
    report = build_health_report()

    assert report.status == HealthStatus.HEALTHY
    assert [(a.id, a.severity) for a in report.alerts] == [("planner:no-executions", Severity.INFO)]
    assert report.planners, "every catalog planner is listed"
    for planner in report.planners:
        for step in planner.steps:
            assert step.found
            assert step.active
            assert not step.empty
            assert step.version == 1
            assert not step.fallback_in_use


def test_fresh_install_json_uses_lowercase_strings_seconds_and_utc_times(seeded: None) -> None:
    data = build_health_report().to_dict()

    assert json.loads(json.dumps(data)) == data
    assert data["status"] == "healthy"
    assert data["generated_at"].endswith("Z")
    assert data["alerts"] == [
        {
            "id": "planner:no-executions",
            "severity": "info",
            "title": "No planner has run yet",
            "description": "No planner execution is recorded; start a plan to see telemetry.",
            "planner": "",
            "plan_id": None,
            "backlog_id": "",
            "template_id": "",
            "synthetic": False,
            "dedup_key": "planner:no-executions@dev",
        }
    ]
    assert data["thresholds"]["stale_backlog_seconds"] == 7200
    assert data["backlog"]["counts"] == {
        "pending": 0,
        "in_progress": 0,
        "complete": 0,
        "blocked": 0,
        "failed": 0,
    }
    assert data["telemetry"]["latency"] == {"samples": 0, "p50_seconds": None, "p95_seconds": None}
    assert data["alert_counts"] == {"info": 1, "warning": 0, "error": 0}


def test_stale_item_degrades_report(seeded: None, plan: Plan) -> None:
    add_item(plan, "outline-core-conflicts", status="in_progress", started_hours_ago=3)
    add_item(plan, "draft-opening", status="in_progress", started_hours_ago=0.5)

    report = build_health_report()

    assert report.status == HealthStatus.DEGRADED
    stale = report.alert("backlog:stale")
    assert stale is not None
    assert stale.severity == Severity.WARNING
    assert not stale.synthetic
    assert stale.backlog_id == "outline-core-conflicts"
    assert report.backlog.stale_total == 1
    assert [i.backlog_id for i in report.backlog.stale] == ["outline-core-conflicts"]
    assert report.backlog.stale[0].age_seconds == pytest.approx(3 * 3600, abs=60)


def test_stale_threshold_comes_from_settings(seeded: None, plan: Plan, settings: Settings) -> None:
    settings.HEALTH_STALE_BACKLOG_SECONDS = 600
    add_item(plan, "draft-opening", status="in_progress", started_hours_ago=0.5)

    assert build_health_report().alert("backlog:stale") is not None


def test_missing_template_makes_report_critical(seeded: None) -> None:
    planner = catalog_planners()[0]
    step = planner.steps[0]
    PromptTemplate.objects.filter(name=step.template_id).update(active_version=None)
    PromptTemplate.objects.filter(name=step.template_id).delete()

    report = build_health_report()

    assert report.status == HealthStatus.CRITICAL
    alert = report.alert(f"template-missing:{planner.slug}:{step.id}")
    assert alert is not None
    assert alert.severity == Severity.ERROR
    assert alert.template_id == step.template_id
    state = next(p for p in report.planners if p.slug == planner.slug).steps[0]
    assert (state.found, state.active, state.version) == (False, False, None)


def test_inactive_template_degrades_report(seeded: None) -> None:
    planner = catalog_planners()[0]
    step = planner.steps[0]
    PromptTemplate.objects.filter(name=step.template_id).update(is_active=False)

    report = build_health_report()

    assert report.status == HealthStatus.DEGRADED
    alert = report.alert(f"template-inactive:{planner.slug}:{step.id}")
    assert alert is not None
    assert alert.severity == Severity.WARNING


def test_recent_fallback_runs_raise_fallback_alert(seeded: None) -> None:
    planner = catalog_planners()[0]
    add_execution(planner.slug, template_id=planner.steps[0].template_id, used_fallback=True)
    add_execution(planner.slug, template_id=planner.steps[0].template_id)

    report = build_health_report()

    alert = report.alert(f"template-fallback:{planner.slug}")
    assert alert is not None
    assert alert.severity == Severity.WARNING
    state = next(p for p in report.planners if p.slug == planner.slug)
    assert state.fallback_runs_in_window == 1
    assert state.runs_in_window == 2
    assert state.steps[0].fallback_in_use


def test_one_contract_drift_event_is_a_warning(seeded: None, plan: Plan) -> None:
    item = add_item(plan, "outline-core-conflicts", status="failed")
    ContractDriftEvent.objects.create(
        item=item, plan=plan, requested={"model": "gpt-4o"}, recorded={"model": "llama3"}
    )

    report = build_health_report()

    alert = report.alert("backlog:contract-drift")
    assert alert is not None
    assert alert.severity == Severity.WARNING
    assert (alert.planner, alert.plan_id, alert.backlog_id) == (
        "iterative",
        plan.pk,
        "outline-core-conflicts",
    )
    assert report.status == HealthStatus.DEGRADED


def test_two_contract_drift_events_are_an_error_and_critical(seeded: None, plan: Plan) -> None:
    item = add_item(plan, "outline-core-conflicts", status="failed")
    for model in ("gpt-4o", "gpt-4.1"):
        ContractDriftEvent.objects.create(
            item=item, plan=plan, requested={"model": model}, recorded={"model": "llama3"}
        )

    report = build_health_report()

    alert = report.alert("backlog:contract-drift")
    assert alert is not None
    assert alert.severity == Severity.ERROR
    assert report.status == HealthStatus.CRITICAL
    assert report.backlog.contract_drift_total == 2


def test_contract_drift_outside_window_is_ignored(seeded: None, plan: Plan) -> None:
    item = add_item(plan, "outline-core-conflicts", status="failed")
    event = ContractDriftEvent.objects.create(item=item, plan=plan)
    ContractDriftEvent.objects.filter(pk=event.pk).update(
        created_at=timezone.now() - timedelta(days=2)
    )

    assert build_health_report().alert("backlog:contract-drift") is None


def _bounce(item: BacklogItem, times: int) -> None:
    for _ in range(times):
        transition_backlog_item(item, BacklogStatus.IN_PROGRESS, reason="phase-start")
        transition_backlog_item(item, BacklogStatus.FAILED, reason="phase-failed")
        transition_backlog_item(item, BacklogStatus.PENDING, reason="resume", actor="olivia")


def test_item_sent_back_to_pending_three_times_is_flapping(seeded: None, plan: Plan) -> None:
    flapping = add_item(plan, "outline-core-conflicts")
    steady = add_item(plan, "draft-opening")
    _bounce(flapping, 3)
    _bounce(steady, 2)

    report = build_health_report()

    alert = report.alert(f"backlog:flapping:{plan.pk}:outline-core-conflicts")
    assert alert is not None
    assert alert.severity == Severity.WARNING
    assert alert.plan_id == plan.pk
    assert alert.backlog_id == "outline-core-conflicts"
    assert report.alert(f"backlog:flapping:{plan.pk}:draft-opening") is None
    assert report.backlog.flapping[0].returns_to_pending == 3


def test_returns_to_pending_outside_window_do_not_flap(seeded: None, plan: Plan) -> None:
    item = add_item(plan, "outline-core-conflicts")
    _bounce(item, 3)
    BacklogTransition.objects.update(created_at=timezone.now() - timedelta(days=2))

    assert not [a for a in build_health_report().alerts if a.id.startswith("backlog:flapping")]


def test_recent_failures_are_an_error_with_transcript_snippet(seeded: None) -> None:
    add_execution(
        "scene-weaver",
        "failed",
        error="AgentError: upstream 502",
        transcript=[
            {"role": "user", "message": "Write scene caravan-at-dawn"},
            {"role": "assistant", "message": "upstream returned 502 Bad Gateway"},
        ],
    )
    add_execution("scene-weaver", "failed", hours_ago=30)  # outside the 24 h window

    report = build_health_report()

    alert = report.alert("planner:recent-failures")
    assert alert is not None
    assert alert.severity == Severity.ERROR
    assert alert.planner == "scene-weaver"
    assert report.status == HealthStatus.CRITICAL
    assert report.telemetry.recent_failures_total == 1
    failure = report.telemetry.recent_failures[0]
    assert failure.transcript_snippet == "assistant: upstream returned 502 Bad Gateway"
    assert report.telemetry.executions_by_outcome["failed"] == 2
    assert report.alert("planner:no-executions") is None


def test_blocked_lore_degrades_report(seeded: None, plan: Plan) -> None:
    LoreRequirement.objects.create(
        plan=plan,
        requirement_slug="salt-guild-charter",
        title="Salt guild charter",
        status="blocked",
    )
    LoreRequirement.objects.create(
        plan=plan, requirement_slug="desert-map", title="Desert map", status="ready"
    )

    report = build_health_report()

    alert = report.alert("lore:blocked")
    assert alert is not None
    assert alert.severity == Severity.WARNING
    assert "salt-guild-charter" in alert.description
    assert "desert-map" not in alert.description
    assert alert.plan_id == plan.pk
    assert report.backlog.plans[0].pipeline == "fiction"


def test_item_whose_inputs_nobody_outputs_is_orphaned(seeded: None, plan: Plan) -> None:
    add_item(plan, "vision-plan", status="complete", phase="vision", outputs=["vision"])
    add_item(plan, "outline-core-conflicts", inputs=["vision"], outputs=["outline"])
    add_item(plan, "draft-opening", inputs=["outline", "cast-bible"])

    report = build_health_report()

    alert = report.alert("backlog:orphaned")
    assert alert is not None
    assert alert.severity == Severity.WARNING
    assert report.backlog.orphaned_total == 1
    orphan = report.backlog.orphaned[0]
    assert orphan.backlog_id == "draft-opening"
    assert orphan.missing_inputs == ("cast-bible",)
    assert "cast-bible" in alert.description


def test_tokens_read_like_the_scheduler_reads_them(seeded: None, plan: Plan) -> None:
    add_item(plan, "outline-core-conflicts", outputs=["outline"])
    BacklogItem.objects.create(
        plan=plan, backlog_id="bare-string", phase="iterative", inputs="outline", outputs="x"
    )
    BacklogItem.objects.create(
        plan=plan, backlog_id="bare-missing", phase="iterative", inputs="cast-bible"
    )
    BacklogItem.objects.create(
        plan=plan, backlog_id="blanks", phase="iterative", inputs=["", None, "x"]
    )
    BacklogItem.objects.create(plan=plan, backlog_id="object", phase="iterative", inputs={"a": 1})
    refresh_unproduced_inputs([plan.pk])  # as the engine does after writing a plan's items

    report = build_health_report()

    assert [(i.backlog_id, i.missing_inputs) for i in report.backlog.orphaned] == [
        ("bare-missing", ("cast-bible",))
    ]


def test_outputs_of_another_plan_do_not_resolve_inputs(seeded: None, plan: Plan) -> None:
    other_project = Project.objects.create(title="Glass Harbour")
    other = Plan.objects.create(project=other_project, name="Glass Harbour")
    add_item(other, "cast-bible", outputs=["cast-bible"])
    add_item(plan, "draft-opening", inputs=["cast-bible"])

    report = build_health_report()

    assert [i.backlog_id for i in report.backlog.orphaned] == ["draft-opening"]


def test_quota_breaches_and_exhausted_critiques_warn(seeded: None) -> None:
    add_execution("iterative", "throttled", quota_limit="max_iterations")
    add_execution("iterative", "rejected", quota_limit="max_tokens")
    add_execution("vision", "success", critique_status="exhausted")
    add_execution("vision", "success", critique_status="passed")

    report = build_health_report()

    assert {"planner:quota:max_iterations", "planner:quota:max_tokens"} <= alert_ids(report)
    critique = report.alert("planner:critique:exhausted")
    assert critique is not None
    assert critique.severity == Severity.WARNING
    assert critique.planner == "vision"
    assert report.alert("planner:critique:passed") is None
    assert report.telemetry.critique_status_counts == {"exhausted": 1, "passed": 1}
    assert report.status == HealthStatus.DEGRADED


def test_latency_percentiles_and_token_totals(seeded: None) -> None:
    for latency in range(100, 2100, 100):  # 20 runs: 0.1 s … 2.0 s
        add_execution("vision", latency_ms=latency, prompt_tokens=10, completion_tokens=5)

    telemetry = build_health_report().telemetry

    assert telemetry.latency.samples == 20
    assert telemetry.latency.p50_seconds == 1.0
    assert telemetry.latency.p95_seconds == 1.9
    assert (telemetry.tokens.prompt, telemetry.tokens.completion) == (200, 100)
    assert telemetry.last_execution is not None


def test_synthetic_items_are_kept_out_of_real_counts(seeded: None, plan: Plan) -> None:
    add_item(plan, "outline-core-conflicts", status="complete")
    add_item(
        plan,
        "synthetic-vision",
        status="in_progress",
        phase="vision",
        started_hours_ago=3,
        synthetic=True,
        inputs=["nobody-makes-this"],
    )

    report = build_health_report()

    assert report.backlog.total == 1
    assert report.backlog.counts["in_progress"] == 0
    assert report.backlog.synthetic_total == 1
    assert report.backlog.stale_total == 0
    assert report.backlog.plans[0].items_total == 1
    assert report.backlog.orphaned_total == 0
    alerts = [a for a in report.alerts if a.id == "backlog:stale"]
    assert len(alerts) == 1
    synthetic = alerts[0]
    assert synthetic.synthetic
    assert synthetic.planner == "vision"
    assert synthetic.dedup_key("dev") == "backlog:stale:synthetic:vision@dev"


def test_plan_holding_only_synthetic_entries_is_not_listed(plan: Plan) -> None:
    drill_project = Project.objects.create(title="Ops synthetic checks")
    drill = Plan.objects.create(project=drill_project, name="Synthetic", branch="synthetic")
    add_item(
        drill, "synthetic-stale-vision", status="in_progress", started_hours_ago=3, synthetic=True
    )
    add_item(plan, "vision-plan", phase="vision")

    backlog = build_health_report().backlog

    assert [p.id for p in backlog.plans] == [plan.pk]
    assert backlog.plans_total == 1


def test_synthetic_and_real_stale_alerts_have_distinct_dedup_keys(seeded: None, plan: Plan) -> None:
    add_item(plan, "outline-core-conflicts", status="in_progress", started_hours_ago=3)
    add_item(
        plan,
        "synthetic-scene",
        status="in_progress",
        phase="sceneWeaver",
        started_hours_ago=3,
        synthetic=True,
    )

    stale = [a for a in build_health_report().alerts if a.id == "backlog:stale"]

    assert sorted(a.dedup_key("staging") for a in stale) == [
        "backlog:stale:synthetic:scene-weaver@staging",
        "backlog:stale@staging",
    ]


def test_report_for_one_plan_only_counts_that_plan(seeded: None, plan: Plan) -> None:
    other_project = Project.objects.create(title="Glass Harbour")
    other = Plan.objects.create(project=other_project, name="Glass Harbour")
    add_item(plan, "outline-core-conflicts", status="in_progress", started_hours_ago=3)
    add_item(other, "vision-plan", status="complete", phase="vision")

    report = build_health_report(plan_id=other.pk)

    assert report.plan_id == other.pk
    assert report.backlog.total == 1
    assert report.alert("backlog:stale") is None
    assert [p.id for p in report.backlog.plans] == [other.pk]


def test_recent_transitions_and_action_log_are_listed(seeded: None, plan: Plan) -> None:
    item = add_item(plan, "outline-core-conflicts")
    transition_backlog_item(item, BacklogStatus.IN_PROGRESS, reason="phase-start", actor="worker")
    ActionLogEntry.objects.create(
        action="resume", actor="olivia", target="outline-core-conflicts", environment="dev"
    )

    backlog = build_health_report().backlog

    assert [
        (t.backlog_id, t.from_status, t.to_status, t.reason) for t in backlog.recent_transitions
    ] == [("outline-core-conflicts", "pending", "in_progress", "phase-start")]
    assert [(a.action, a.actor) for a in backlog.action_log] == [("resume", "olivia")]


def test_reading_the_report_writes_nothing(
    seeded: None,
    plan: Plan,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    add_item(plan, "outline-core-conflicts", status="in_progress", started_hours_ago=3)
    with CaptureQueriesContext(connection) as queries:
        build_health_report()

    statements = [q["sql"].lstrip("( ").split()[0].upper() for q in queries.captured_queries]
    assert set(statements) <= {"SELECT", "WITH"}


def test_runs_of_an_unregistered_planner_are_a_warning(seeded: None) -> None:
    add_execution("plot-doctor", "success")

    report = build_health_report()

    assert report.warnings == ("Recent runs of planners that are not registered: plot-doctor.",)
    assert report.status == HealthStatus.HEALTHY


def test_stale_alert_names_the_first_items_and_counts_the_rest(seeded: None, plan: Plan) -> None:
    for n in range(7):
        add_item(plan, f"pass-{n}", status="in_progress", started_hours_ago=3 + n)

    alert = build_health_report().alert("backlog:stale")

    assert alert is not None
    assert alert.title == "7 backlog item(s) stuck in progress"
    assert "pass-6 (plan" in alert.description  # the oldest first
    assert "and 2 more" in alert.description


def test_now_pins_the_windows(seeded: None) -> None:
    add_execution("scene-weaver", "failed", error="upstream 502")

    today = build_health_report()
    tomorrow_now = timezone.now() + timedelta(hours=25)
    ProcessHeartbeat.objects.update(last_seen=tomorrow_now)  # the workers kept beating
    tomorrow = build_health_report(now=tomorrow_now)

    assert today.alert("planner:recent-failures") is not None
    assert tomorrow.alert("planner:recent-failures") is None
    assert tomorrow.telemetry.executions_by_outcome["failed"] == 1
    assert tomorrow.status == HealthStatus.HEALTHY
