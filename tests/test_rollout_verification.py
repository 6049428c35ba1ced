"""System checks: each passes on the real evidence and fails without it, in this environment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from cognition.models import PromptTemplate
from opsalerts.ack import ack_url_for
from opsalerts.actions import acknowledge_alert, evaluate_and_sync
from opsalerts.models import Alert, Delivery
from planners.framework.catalog import catalog
from planners.models import PlannerExecution, PlannerOutcome
from planners.models.rollout import ItemStatus
from planners.rollouts import actions, runbook
from planners.rollouts.check_types import CheckResult
from planners.rollouts.verification import CHECKS, run_checks
from tests.factories.backlog import seed_templates
from tests.factories.rollouts import (
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


def test_diagnostics_check_needs_the_template_and_no_error_alert_anywhere() -> None:
    missing = check(runbook.DIAGNOSTICS_HEALTHY)
    assert not missing.passed
    assert "Templates not found: planner.fiction.vision" in missing.summary

    # Vision's template alone: the other planners' missing templates are errors in the
    # report, and an error anywhere blocks.
    seed_vision_template()
    blocked = check(runbook.DIAGNOSTICS_HEALTHY)
    assert not blocked.passed
    assert "Error alerts firing: " in blocked.summary
    assert "template-missing:scene-weaver:scene-draft" in blocked.snapshot["error_alerts"]

    seed_templates()
    healthy = check(runbook.DIAGNOSTICS_HEALTHY)
    assert healthy.passed, healthy.summary
    assert healthy.snapshot["steps"][0]["found"] is True


def _fallback_warning_for_vision() -> Alert:
    """Vision's template inactive: the report raises a warning naming vision."""
    PromptTemplate.objects.filter(name="planner.fiction.vision").update(is_active=False)
    evaluate_and_sync(enqueue=False)
    return Alert.objects.get(alert_id__startswith="template-inactive:vision")


def test_warning_naming_the_planner_blocks_until_acknowledged_with_a_note(
    client: Client,
) -> None:
    seed_templates()
    warning = _fallback_warning_for_vision()

    blocked = check(runbook.DIAGNOSTICS_HEALTHY)
    assert not blocked.passed
    assert warning.alert_id in blocked.summary
    assert blocked.snapshot["warning_alerts"] == [warning.alert_id]

    acknowledge_alert(warning, actor="olivia", channel=Alert.Channel.CONSOLE)
    assert not check(runbook.DIAGNOSTICS_HEALTHY).passed  # acknowledged, but no note

    # Acknowledged again (the same episode) from the notification's link, with a note.
    Alert.objects.filter(pk=warning.pk).update(status=Alert.Status.FIRING)
    link = urlsplit(ack_url_for(warning)).path
    client.post(link, {"name": "Ravi", "note": "Re-seeding tonight."})
    excused = check(runbook.DIAGNOSTICS_HEALTHY)
    assert excused.passed, excused.summary
    assert excused.snapshot["excused_warnings"] == [warning.dedup_key]


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
    enable_ops_alerting(settings)
    settings.ROLLOUT_ACK_EVIDENCE_MAX_AGE_SECONDS = 3600
    assert not check(runbook.SYNTHETIC_ALERT_ACKNOWLEDGED).passed

    stale = acknowledged_synthetic_alert(acknowledged_at=timezone.now() - timedelta(hours=2))
    assert not check(runbook.SYNTHETIC_ALERT_ACKNOWLEDGED).passed

    Alert.objects.filter(pk=stale.pk).update(acknowledged_at=timezone.now() - timedelta(minutes=2))
    result = check(runbook.SYNTHETIC_ALERT_ACKNOWLEDGED)
    assert result.passed, result.summary
    snapshot = result.snapshot
    assert (snapshot["acknowledged_by"], snapshot["channel"]) == ("oncall@ops", "link")
    assert (snapshot["route"], snapshot["routing_key"]) == ("default webhook", "planner-ops")
    assert (snapshot["delivery_attempt"], snapshot["response_code"]) == (1, 200)


@pytest.mark.parametrize("channel", ["admin", "console", "api"])
def test_acknowledgement_outside_the_target_channel_is_not_evidence(
    settings: Any, channel: str
) -> None:
    enable_ops_alerting(settings)
    acknowledged_synthetic_alert(via=channel)

    result = check(runbook.SYNTHETIC_ALERT_ACKNOWLEDGED)

    assert not result.passed
    assert f"acknowledged from the {channel} channel" in result.summary


def test_acknowledgement_of_an_undelivered_drill_is_not_evidence(settings: Any) -> None:
    enable_ops_alerting(settings)
    acknowledged_synthetic_alert(response_code=500)

    result = check(runbook.SYNTHETIC_ALERT_ACKNOWLEDGED)

    assert not result.passed
    assert "no successful (2xx) delivery" in result.summary


def test_delivery_to_a_route_the_rules_no_longer_choose_is_not_evidence(settings: Any) -> None:
    enable_ops_alerting(settings)
    acknowledged_synthetic_alert()
    settings.OPS_ALERTING_ROUTES = (
        '[{"match": "alert:backlog:stale:*", "webhook_url": "http://127.0.0.1:9/backlog", '
        '"routing_key": "backlog-oncall"}]'
    )

    assert not check(runbook.SYNTHETIC_ALERT_ACKNOWLEDGED).passed


def test_link_acknowledgement_needs_the_link_in_the_delivery_payload(settings: Any) -> None:
    enable_ops_alerting(settings)
    alert = acknowledged_synthetic_alert()
    Delivery.objects.filter(alerts=alert).update(payload={"alerts": []})

    assert not check(runbook.SYNTHETIC_ALERT_ACKNOWLEDGED).passed


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


def test_failing_check_fails_the_item_and_records_the_snapshot() -> None:
    checklist, _ = actions.get_or_create_checklist(PLANNER, "dev")

    actions.verify_checklist(checklist, actor="olivia")

    item = checklist.items.get(key="synthetic-alert")
    assert item.status == ItemStatus.FAILED
    assert item.evidence_snapshot["passed"] is False
    assert checklist.items.get(key="seeder-ran").status == ItemStatus.FAILED


def test_verifying_another_environment_is_refused() -> None:
    checklist, _ = actions.get_or_create_checklist(PLANNER, "staging")

    with pytest.raises(actions.VerificationRefused, match="This deployment is dev"):
        actions.verify_checklist(checklist, actor="olivia")
