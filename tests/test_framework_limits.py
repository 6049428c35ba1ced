"""Quotas and critique budgets: enforced by the base class, recorded, configured in settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from cognition.agents.base import AgentService
from cognition.agents.scripted import ScriptedAgent
from cognition.checks import check_configuration
from cognition.startup import EXIT_CONFIGURATION_ERROR, refuse_invalid_configuration
from planners.framework.admission import FIRST_RUN_TOKENS, expected_run_tokens
from planners.framework.context import PlannerContext
from planners.framework.errors import PlannerLimitsError
from planners.framework.limits import critique_budget_for, limit_problems, quotas_for
from planners.framework.result import PlannerOutcome, PlannerResult
from planners.models import PlannerExecution, TelemetryEvent
from tests.toy_planner import BAD_REPLY, BETTER_REPLY, GOOD_REPLY, ToyPlanner, ToyReply, params

pytestmark = pytest.mark.django_db


def run(planner: ToyPlanner, agent: AgentService, **context: Any) -> PlannerResult:
    ctx = PlannerContext.create(agent, correlation_id="corr-limits", **context)
    return planner.plan(ctx, params())


def spent_earlier(tokens: int) -> None:
    now = timezone.now()
    PlannerExecution.objects.create(
        planner_slug="toy-title",
        outcome="success",
        prompt_tokens=tokens,
        environment="dev",
        correlation_id="corr-earlier",
        started_at=now - timedelta(minutes=5),
        finished_at=now - timedelta(minutes=4),
    )


# -- quotas --------------------------------------------------------------------------------


def test_iteration_over_quota_is_throttled_and_recorded(
    toy: ToyPlanner, settings: SettingsWrapper
) -> None:
    settings.PLANNER_QUOTAS = {"default": {"max_iterations": 2}}
    agent = ScriptedAgent({"vision": GOOD_REPLY})

    assert run(toy, agent, iteration=2).outcome == PlannerOutcome.SUCCESS
    result = run(toy, agent, iteration=3)

    assert result.outcome == PlannerOutcome.THROTTLED
    assert "iteration 3 exceeds the quota of 2" in result.error
    assert len(agent.calls) == 1
    execution = result.execution
    assert execution is not None
    assert (execution.outcome, execution.quota_limit) == ("throttled", "max_iterations")
    event = TelemetryEvent.objects.get(name="planner.throttled")
    assert event.execution == execution
    assert event.payload["quota_limit"] == "max_iterations"
    assert not TelemetryEvent.objects.filter(name="planner.started", execution=execution).exists()


def test_queued_jobs_over_quota_are_rejected(toy: ToyPlanner, settings: SettingsWrapper) -> None:
    settings.PLANNER_QUOTAS = {"default": {"max_queued_jobs": 4}}

    result = run(toy, ScriptedAgent({"vision": GOOD_REPLY}), queued_jobs=5)

    assert result.outcome == PlannerOutcome.REJECTED
    assert "5 jobs already queued" in result.error
    assert PlannerExecution.objects.get().quota_limit == "max_queued_jobs"
    assert TelemetryEvent.objects.filter(name="planner.rejected").count() == 1


def test_token_quota_spent_in_the_window_rejects(
    toy: ToyPlanner, settings: SettingsWrapper
) -> None:
    settings.PLANNER_QUOTAS = {"default": {"max_tokens": 1000}}
    spent_earlier(1000)
    agent = ScriptedAgent({"vision": GOOD_REPLY})

    result = run(toy, agent)

    assert result.outcome == PlannerOutcome.REJECTED
    assert "used 1000 tokens in the last 24h" in result.error
    assert agent.calls == []
    assert PlannerExecution.objects.filter(quota_limit="max_tokens").count() == 1


def test_prompt_that_would_exceed_token_quota_rejects(
    toy: ToyPlanner, settings: SettingsWrapper
) -> None:
    settings.PLANNER_QUOTAS = {"default": {"max_tokens": 1000}}
    spent_earlier(990)

    result = run(toy, ScriptedAgent({"vision": GOOD_REPLY}))

    assert result.outcome == PlannerOutcome.REJECTED
    assert "this prompt needs about" in result.error


def test_tokens_older_than_the_window_do_not_count(
    toy: ToyPlanner, settings: SettingsWrapper
) -> None:
    settings.PLANNER_QUOTAS = {"default": {"max_tokens": 1000}}
    spent_earlier(1000)
    PlannerExecution.objects.update(created_at=timezone.now() - timedelta(hours=25))

    assert run(toy, ScriptedAgent({"vision": GOOD_REPLY})).outcome == PlannerOutcome.SUCCESS


def test_planner_override_lifts_the_default_quota(
    toy: ToyPlanner, settings: SettingsWrapper
) -> None:
    settings.PLANNER_QUOTAS = {
        "default": {"max_iterations": 1, "max_tokens": 5},
        "toy-title": {"max_tokens": None, "max_iterations": 10},
    }

    assert quotas_for("toy-title").max_tokens is None
    assert quotas_for("vision").max_tokens == 5
    assert run(toy, ScriptedAgent({"vision": GOOD_REPLY}), iteration=9).outcome == "success"


# -- critique ------------------------------------------------------------------------------


def critique_on(settings: SettingsWrapper, **budget: int) -> None:
    settings.PLANNER_CRITIQUE = {
        "default": {"enabled": False},
        "toy-title": {"enabled": True, **budget},
    }


def test_critique_really_asks_the_agent_and_records_approval(
    toy: ToyPlanner, settings: SettingsWrapper
) -> None:
    critique_on(settings, max_per_step=2)
    agent = ScriptedAgent({"vision": GOOD_REPLY, "critique": "APPROVED"})

    result = run(toy, agent)

    assert [phase for phase, _ in agent.calls] == ["vision", "critique"]
    critique_request = agent.calls[1][1]
    assert critique_request[-2].content == GOOD_REPLY
    assert "APPROVED" in critique_request[-1].content
    assert result.outcome == PlannerOutcome.SUCCESS
    assert result.metrics.critique_count == 1
    assert result.metrics.critique_tokens > 0
    assert result.diagnostics.critique_status == "passed"
    execution = PlannerExecution.objects.get()
    assert (execution.critique_count, execution.critique_status) == (1, "passed")
    assert execution.critique_tokens == result.metrics.critique_tokens
    assert execution.prompt_tokens == result.attempts[0].prompt_tokens


def test_critique_revision_replaces_the_reply(toy: ToyPlanner, settings: SettingsWrapper) -> None:
    critique_on(settings, max_per_step=3)
    agent = ScriptedAgent({"vision": GOOD_REPLY, "critique": [BETTER_REPLY, "APPROVED"]})

    result = run(toy, agent)

    assert result.artifacts["reply"] == ToyReply(title="The Last Lighthouse Keeper")
    assert result.metrics.critique_count == 2
    assert result.diagnostics.critique_status == "revised"
    # The second round critiques the revised reply, not the first one.
    assert agent.calls[2][1][-2].content == BETTER_REPLY
    execution = PlannerExecution.objects.get()
    assert execution.artifacts["replies"]["toy-title"] == {"title": "The Last Lighthouse Keeper"}


def test_critique_stops_at_the_per_step_budget(toy: ToyPlanner, settings: SettingsWrapper) -> None:
    critique_on(settings, max_per_step=2)
    agent = ScriptedAgent({"vision": GOOD_REPLY, "critique": BAD_REPLY})

    result = run(toy, agent)

    assert [phase for phase, _ in agent.calls] == ["vision", "critique", "critique"]
    assert result.outcome == PlannerOutcome.SUCCESS
    assert result.artifacts["reply"] == ToyReply(title="The Lighthouse Keeper")
    assert result.diagnostics.critique_status == "exhausted"
    assert any("max_per_step reached" in d for d in result.diagnostics.details)
    assert PlannerExecution.objects.get().critique_count == 2


def test_critique_stops_at_the_total_budget(toy: ToyPlanner, settings: SettingsWrapper) -> None:
    critique_on(settings, max_total=1)

    result = run(toy, ScriptedAgent({"vision": GOOD_REPLY, "critique": BAD_REPLY}))

    assert result.metrics.critique_count == 1
    assert result.diagnostics.critique_status == "exhausted"
    assert any("max_total reached" in d for d in result.diagnostics.details)


def test_critique_stops_before_exceeding_the_token_budget(
    toy: ToyPlanner, settings: SettingsWrapper
) -> None:
    critique_on(settings, max_per_step=5, max_tokens=10)
    agent = ScriptedAgent({"vision": GOOD_REPLY, "critique": BAD_REPLY})

    result = run(toy, agent)

    assert result.metrics.critique_count == 0
    assert len(agent.calls) == 1
    assert result.diagnostics.critique_status == "exhausted"
    assert any("max_tokens would be exceeded" in d for d in result.diagnostics.details)


def test_critique_without_count_limits_still_stops(
    toy: ToyPlanner, settings: SettingsWrapper
) -> None:
    critique_on(settings)

    result = run(toy, ScriptedAgent({"vision": GOOD_REPLY, "critique": BAD_REPLY}))

    assert result.metrics.critique_count == 3
    assert result.diagnostics.critique_status == "exhausted"


def test_failed_critique_call_keeps_the_valid_reply(
    toy: ToyPlanner, settings: SettingsWrapper
) -> None:
    critique_on(settings, max_per_step=1)
    agent = ScriptedAgent({"vision": GOOD_REPLY})  # no "critique" reply: AgentError

    result = run(toy, agent)

    assert result.outcome == PlannerOutcome.SUCCESS
    assert result.diagnostics.critique_status == "error"
    assert result.attempts[-1].error


def test_critique_disabled_by_default(toy: ToyPlanner) -> None:
    agent = ScriptedAgent({"vision": GOOD_REPLY, "critique": "APPROVED"})

    result = run(toy, agent)

    assert [phase for phase, _ in agent.calls] == ["vision"]
    assert result.diagnostics.critique_status == "disabled"
    assert critique_budget_for("toy-title").enabled is False


# -- configuration -------------------------------------------------------------------------


def test_bad_limit_values_are_named_with_variable_and_key(settings: SettingsWrapper) -> None:
    settings.PLANNER_CRITIQUE = {"default": {"enabled": "yes", "max_total": 0}}
    settings.PLANNER_QUOTAS = {
        "default": {"max_iterations": -1, "max_tokens": "100", "max_jobs": 3},
        "vision": {"max_queued_jobs": True},
    }

    problems = limit_problems()

    assert problems == [
        "PLANNER_CRITIQUE: default.enabled must be true or false, got 'yes'.",
        "PLANNER_CRITIQUE: default.max_total must be a positive whole number"
        " (unset means unlimited), got 0.",
        "PLANNER_QUOTAS: default.max_iterations must be a positive whole number"
        " (unset means unlimited), got -1.",
        "PLANNER_QUOTAS: default.max_tokens must be a positive whole number or null, got '100'.",
        "PLANNER_QUOTAS: unknown key default.max_jobs"
        " (allowed: max_iterations, max_queued_jobs, max_tokens).",
        "PLANNER_QUOTAS: vision.max_queued_jobs must be a positive whole number or null, got True.",
    ]


def test_unknown_planner_slug_in_settings_is_a_check_error(
    toy: ToyPlanner, settings: SettingsWrapper
) -> None:
    settings.PLANNER_QUOTAS = {"default": {}, "toy-titel": {"max_iterations": 2}}

    errors = check_configuration()

    assert [e.id for e in errors] == ["planners.E002"]
    assert "unknown planner 'toy-titel'" in errors[0].msg
    assert "toy-title" in errors[0].msg


def test_manage_py_check_refuses_bad_limits(settings: SettingsWrapper) -> None:
    settings.PLANNER_QUOTAS = {"default": {"max_tokens": 0}}

    with pytest.raises(SystemCheckError, match=r"PLANNER_QUOTAS: default\.max_tokens"):
        call_command("check", tags=["configuration"])


def test_worker_start_refuses_bad_limits(
    settings: SettingsWrapper, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.PLANNER_CRITIQUE = ["not", "an", "object"]

    with pytest.raises(SystemExit) as stopped:
        refuse_invalid_configuration()
    assert stopped.value.code == EXIT_CONFIGURATION_ERROR
    error = capsys.readouterr().err
    assert "Configuration error: PLANNER_CRITIQUE: expected a JSON object" in error


def test_valid_limits_pass_the_check(settings: SettingsWrapper) -> None:
    settings.PLANNER_CRITIQUE = {"default": {"enabled": True, "max_total": 4, "max_tokens": None}}
    settings.PLANNER_QUOTAS = {"default": {"max_iterations": 12, "max_queued_jobs": 50}}

    assert check_configuration() == []
    refuse_invalid_configuration()


def test_run_meeting_bad_limits_records_and_raises(
    toy: ToyPlanner, settings: SettingsWrapper
) -> None:
    settings.PLANNER_QUOTAS = {"default": {"max_iterations": 0}}

    with pytest.raises(PlannerLimitsError, match="max_iterations"):
        run(toy, ScriptedAgent({"vision": GOOD_REPLY}))

    assert "PLANNER_QUOTAS" in PlannerExecution.objects.get().error


@pytest.mark.django_db
def test_expected_run_tokens_are_what_the_planners_latest_run_spent() -> None:
    assert expected_run_tokens("toy") == FIRST_RUN_TOKENS
    now = timezone.now()
    for prompt, completion, critique in ((900, 100, 0), (300, 40, 60)):
        PlannerExecution.objects.create(
            planner_slug="toy",
            outcome=PlannerOutcome.SUCCESS,
            environment="dev",
            correlation_id="run",
            started_at=now,
            finished_at=now,
            prompt_tokens=prompt,
            completion_tokens=completion,
            critique_tokens=critique,
        )

    assert expected_run_tokens("toy") == 400
    assert expected_run_tokens("another-planner") == FIRST_RUN_TOKENS
