"""System checks: each passes on the real evidence and fails without it, in this environment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from cognition.models import PromptTemplate
from opsalerts.models import Alert
from planners.framework.catalog import catalog
from planners.models import PlannerExecution, PlannerOutcome
from planners.models.rollout import ItemStatus
from planners.rollouts import actions, runbook
from planners.rollouts.verification import CHECKS, CheckResult, run_checks
from tests.factories import (
    PLANNER,
    acknowledged_synthetic_alert,
    enable_ops_alerting,
    make_live_evidence,
    run_vision_scripted,
    seed_vision_template,
)

pytestmark = pytest.mark.django_db


def check(name: str) -> CheckResult:
    return run_checks(catalog.get(PLANNER).metadata, [name])[name]


def test_template_check_passes_once_seeded_and_fails_when_inactive() -> None:
    assert not check(runbook.TEMPLATE_SEEDED).passed

    seed_vision_template()
    result = check(runbook.TEMPLATE_SEEDED)
    assert result.passed, result.summary
    assert result.snapshot["steps"][0]["template_id"] == "planner.fiction.vision"
    assert result.snapshot["steps"][0]["version"] == 1
    assert result.snapshot["environment"] == "dev"

    PromptTemplate.objects.filter(name="planner.fiction.vision").update(is_active=False)
    failed = check(runbook.TEMPLATE_SEEDED)
    assert not failed.passed
    assert "planner.fiction.vision" in failed.summary


def test_diagnostics_check_needs_the_template_and_no_error_alert_for_the_planner() -> None:
    missing = check(runbook.DIAGNOSTICS_HEALTHY)
    assert not missing.passed
    assert "Templates not found: planner.fiction.vision" in missing.summary

    seed_vision_template()
    healthy = check(runbook.DIAGNOSTICS_HEALTHY)
    assert healthy.passed, healthy.summary
    assert healthy.snapshot["steps"][0]["found"] is True

    now = timezone.now()
    Alert.objects.create(
        dedup_key="planner:recent-failures:vision@dev",
        alert_id="planner:recent-failures:vision",
        environment="dev",
        severity="error",
        title="Recent failures",
        planner_slug=PLANNER,
        first_seen=now,
        last_seen=now,
    )
    firing = check(runbook.DIAGNOSTICS_HEALTHY)
    assert not firing.passed
    assert "planner:recent-failures:vision" in firing.snapshot["error_alerts"]


def test_error_alert_in_another_environment_does_not_block_this_one() -> None:
    seed_vision_template()
    now = timezone.now()
    Alert.objects.create(
        dedup_key="planner:recent-failures:vision@staging",
        alert_id="planner:recent-failures:vision",
        environment="staging",
        severity="error",
        title="Recent failures",
        planner_slug=PLANNER,
        first_seen=now,
        last_seen=now,
    )
    assert check(runbook.DIAGNOSTICS_HEALTHY).passed


def test_ops_config_check_needs_alerting_enabled_and_valid(settings: Any) -> None:
    settings.OPS_ALERTING_ENABLED = False
    disabled = check(runbook.OPS_CONFIG_VALID)
    assert not disabled.passed
    assert "OPS_ALERTING_ENABLED" in disabled.summary

    settings.OPS_ALERTING_ENABLED = True
    settings.OPS_ALERTING_WEBHOOK_URL = ""
    no_hook = check(runbook.OPS_CONFIG_VALID)
    assert not no_hook.passed
    assert "OPS_ALERTING_WEBHOOK_URL" in no_hook.summary

    enable_ops_alerting(settings)
    settings.OPS_ALERTING_WEBHOOK_URL = "https://hooks.example.test/services/T000/SECRET"
    valid = check(runbook.OPS_CONFIG_VALID)
    assert valid.passed, valid.summary
    assert valid.snapshot["webhook"] == "https://hooks.example.test/…"  # the token stays out


def test_synthetic_alert_check_needs_a_recent_acknowledgement(settings: Any) -> None:
    settings.ROLLOUT_ACK_EVIDENCE_MAX_AGE_SECONDS = 3600
    assert not check(runbook.SYNTHETIC_ALERT_ACKNOWLEDGED).passed

    stale = acknowledged_synthetic_alert(acknowledged_at=timezone.now() - timedelta(hours=2))
    assert not check(runbook.SYNTHETIC_ALERT_ACKNOWLEDGED).passed

    Alert.objects.filter(pk=stale.pk).update(acknowledged_at=timezone.now() - timedelta(minutes=2))
    result = check(runbook.SYNTHETIC_ALERT_ACKNOWLEDGED)
    assert result.passed, result.summary
    assert result.snapshot["acknowledged_by"] == "oncall@ops"
    assert result.snapshot["acknowledged_via"] == "link"


def test_synthetic_alert_for_another_planner_is_not_evidence() -> None:
    acknowledged_synthetic_alert(planner="iterative")
    assert not check(runbook.SYNTHETIC_ALERT_ACKNOWLEDGED).passed


def test_pipeline_check_needs_a_successful_scripted_run_here() -> None:
    assert not check(runbook.PIPELINE_RUN_COMPLETED).passed

    seed_vision_template()
    execution = run_vision_scripted()
    result = check(runbook.PIPELINE_RUN_COMPLETED)
    assert result.passed, result.summary
    assert result.snapshot["execution_id"] == execution.pk
    assert result.snapshot["agent_provider"] == "scripted"


def test_failed_or_other_environment_runs_do_not_count() -> None:
    seed_vision_template()
    execution = run_vision_scripted()
    PlannerExecution.objects.filter(pk=execution.pk).update(outcome=PlannerOutcome.FAILED)
    assert not check(runbook.PIPELINE_RUN_COMPLETED).passed

    PlannerExecution.objects.filter(pk=execution.pk).update(
        outcome=PlannerOutcome.SUCCESS, environment="staging"
    )
    assert not check(runbook.PIPELINE_RUN_COMPLETED).passed


def test_verify_stores_snapshots_as_evidence_on_every_system_item(settings: Any) -> None:
    make_live_evidence(settings)
    checklist, _ = actions.get_or_create_checklist(PLANNER, "dev")

    run = actions.verify_checklist(checklist, actor="olivia")

    assert run.passed
    system_items = list(checklist.items.exclude(verification=""))
    assert len(system_items) == sum(1 for i in runbook.RUNBOOK_ITEMS if i.verification)
    assert {i.verification for i in system_items} == set(CHECKS)
    for item in system_items:
        assert item.status == ItemStatus.PASSED
        assert item.evidence_snapshot["check"] == item.verification
        assert item.evidence_snapshot["environment"] == "dev"
        assert (item.checked_by, item.checked_via) == ("olivia", "console")


def test_failing_check_keeps_a_waiver_but_records_the_snapshot() -> None:
    checklist, _ = actions.get_or_create_checklist(PLANNER, "dev")
    item = checklist.items.get(key="synthetic-alert")
    actions.mark_item(item, status=ItemStatus.WAIVED, actor="olivia", waiver_reason="Pager down.")

    actions.verify_checklist(checklist, actor="olivia")

    item.refresh_from_db()
    assert item.status == ItemStatus.WAIVED
    assert item.evidence_snapshot["passed"] is False
    assert checklist.items.get(key="seeder-ran").status == ItemStatus.FAILED


def test_verifying_another_environment_is_refused() -> None:
    checklist, _ = actions.get_or_create_checklist(PLANNER, "staging")

    with pytest.raises(actions.VerificationRefused, match="This deployment is dev"):
        actions.verify_checklist(checklist, actor="olivia")
