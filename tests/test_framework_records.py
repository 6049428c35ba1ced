"""What a run leaves behind: execution links, telemetry lines, multi-step outcomes, retries."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import pytest
from celery.signals import worker_init
from pydantic import BaseModel
from pytest_django.fixtures import Settings

from cognition.agents.base import AgentError, AgentReply, AgentService, ChatMessage
from cognition.agents.scripted import ScriptedAgent
from cognition.startup import EXIT_CONFIGURATION_ERROR, refuse_invalid_configuration
from planners.framework.base import PlannerBase, result_of
from planners.framework.catalog import catalog
from planners.framework.context import PlannerContext
from planners.framework.errors import ReplyValidationError
from planners.framework.metadata import PlannerMetadata, PlannerStep
from planners.framework.result import PlannerOutcome, PlannerResult
from planners.models import (
    BacklogItem,
    Plan,
    PlannerExecution,
    Project,
    TelemetryEvent,
)
from tests.toy_planner import BAD_REPLY, GOOD_REPLY, ToyPlanner, params

pytestmark = pytest.mark.django_db


def run(planner: PlannerBase[Any], agent: AgentService, **context: Any) -> PlannerResult:
    ctx = PlannerContext.create(agent, correlation_id="corr-records", **context)
    return planner.plan(ctx, params())


def test_telemetry_is_logged_as_json_lines(
    toy: ToyPlanner, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="planners.telemetry"):
        run(toy, ScriptedAgent({"vision": GOOD_REPLY}))

    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "planners.telemetry"]
    assert [line["event"] for line in lines] == ["planner.started", "planner.completed"]
    completed = lines[1]
    assert completed["planner"] == "toy-title"
    assert completed["correlation_id"] == "corr-records"
    assert completed["environment"] == "dev"
    assert completed["outcome"] == "success"
    assert completed["prompt_tokens"] > 0
    assert completed["tags"] == {"family": "test"}


def test_execution_links_plan_item_and_marks_synthetic_runs(toy: ToyPlanner) -> None:
    project = Project.objects.create(title="The Salt Road")
    plan = Plan.objects.create(project=project, name="The Salt Road (main)")
    item = BacklogItem.objects.create(
        plan=plan, backlog_id="vision-plan", phase="vision", synthetic=True
    )

    result = run(toy, ScriptedAgent({"vision": GOOD_REPLY}), plan=plan, backlog_item=item)

    execution = PlannerExecution.objects.get()
    assert result.execution == execution
    assert (execution.plan, execution.backlog_item, execution.synthetic) == (plan, item, True)
    assert list(plan.executions.all()) == [execution]
    started = TelemetryEvent.objects.get(name="planner.started")
    assert (started.payload["plan_id"], started.payload["backlog_item_id"]) == (plan.pk, item.pk)


def test_environment_comes_from_settings(toy: ToyPlanner, settings: Settings) -> None:
    settings.DEPLOY_ENVIRONMENT = "staging"

    run(toy, ScriptedAgent({"vision": GOOD_REPLY}))

    assert PlannerExecution.objects.get().environment == "staging"
    assert set(TelemetryEvent.objects.values_list("environment", flat=True)) == {"staging"}


class _TimeoutAgent:
    provider, model = "flaky", "flaky-1"

    def chat(
        self, messages: Sequence[ChatMessage], *, phase: str = "", on_retry: Any = None
    ) -> AgentReply:
        raise AgentError("read timed out after 60s", permanent=False)


def test_retried_agent_error_carries_the_stored_run(toy: ToyPlanner) -> None:
    with pytest.raises(AgentError) as caught:
        run(toy, _TimeoutAgent())

    result = result_of(caught.value)
    assert result is not None
    assert result.execution == PlannerExecution.objects.get()
    assert result.attempts[0].error == "read timed out after 60s"
    assert result.attempts[0].messages[-1].content.startswith("Fallback: title a story")


def test_blocked_run_order_is_call_validate_repair_validate_failed(
    toy: ToyPlanner, caplog: pytest.LogCaptureFixture
) -> None:
    class Recording(ScriptedAgent):
        def chat(
            self, messages: Sequence[ChatMessage], *, phase: str = "", on_retry: Any = None
        ) -> AgentReply:
            ToyPlanner.calls.append("agent")
            return super().chat(messages, phase=phase)

    with caplog.at_level(logging.INFO, logger="planners.telemetry"):
        result = run(toy, Recording({"vision": BAD_REPLY}))

    assert result.outcome == PlannerOutcome.BLOCKED
    assert ToyPlanner.calls == [
        "template_variables",
        "agent",
        "parse_reply",
        "agent",
        "parse_reply",
    ]
    events = [
        json.loads(r.getMessage())["event"]
        for r in caplog.records
        if r.name == "planners.telemetry"
    ]
    assert events == ["planner.started", "planner.failed"]


def test_cancel_between_calls_stops_before_the_repair(toy: ToyPlanner) -> None:
    agent = ScriptedAgent({"vision": BAD_REPLY})

    result = run(toy, agent, is_cancelled=lambda: len(agent.calls) >= 1)

    assert result.outcome == PlannerOutcome.CANCELLED
    assert len(agent.calls) == 1
    assert "cancelled before the agent call for step 'toy-title'" in result.error
    assert PlannerExecution.objects.get().outcome == "cancelled"


def test_worker_refuses_to_start_with_bad_limits(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.PLANNER_QUOTAS = {"default": {"max_queued_jobs": 0}}

    connected = [ref() for _, ref in worker_init.receivers]
    assert refuse_invalid_configuration in connected

    with pytest.raises(SystemExit) as stopped:
        refuse_invalid_configuration(sender=None)
    assert stopped.value.code == EXIT_CONFIGURATION_ERROR
    assert "Configuration error: PLANNER_QUOTAS: default.max_queued_jobs" in capsys.readouterr().err


# -- a two-step planner ----------------------------------------------------------------------


class TwoStepParams(BaseModel):
    topic: str
    words: int = 3


class TwoStepPlanner(PlannerBase[TwoStepParams]):
    """Outline, then title: each step replies with one line starting with its step id."""

    metadata = PlannerMetadata(
        name="Toy Two Step",
        slug="toy-two-step",
        description="Two steps, for partial outcomes and run-wide critique budgets.",
        capabilities=("toy",),
        steps=(
            PlannerStep("outline", "Outline", "", "planner.test.twoOutline", ("topic",)),
            PlannerStep("title", "Title", "", "planner.test.twoTitle", ("topic",)),
        ),
    )
    params_model = TwoStepParams

    def default_prompt(self, step: PlannerStep) -> str:
        return f"{step.id} for {{{{topic}}}}"

    def template_variables(
        self, step: PlannerStep, params: TwoStepParams, context: PlannerContext
    ) -> dict[str, str]:
        return {"topic": params.topic}

    def agent_phase(self, step: PlannerStep, context: PlannerContext) -> str:
        return step.id

    def parse_reply(self, step: PlannerStep, text: str) -> str:
        if not text.startswith(step.id):
            raise ReplyValidationError([f"the reply must start with {step.id!r}"])
        return text


def test_later_step_blocked_is_partial_with_earlier_reply_kept() -> None:
    agent = ScriptedAgent({"outline": "outline: three acts", "title": "nope"})
    with catalog.registered(TwoStepPlanner) as (planner,):
        result = run(planner, agent)

    assert result.outcome == PlannerOutcome.PARTIAL
    assert result.artifacts["replies"] == {"outline": "outline: three acts"}
    assert [s.validation_status for s in result.steps] == ["passed", "failed"]
    execution = PlannerExecution.objects.get()
    assert execution.outcome == "partial"
    assert [s["step_id"] for s in execution.diagnostics["steps"]] == ["outline", "title"]
    assert TelemetryEvent.objects.filter(name="planner.completed").count() == 1


def test_total_critique_budget_spans_steps(settings: Settings) -> None:
    settings.PLANNER_CRITIQUE = {"toy-two-step": {"enabled": True, "max_total": 1}}
    agent = ScriptedAgent(
        {"outline": "outline: acts", "title": "title: Salt", "critique": "not a revision"}
    )
    with catalog.registered(TwoStepPlanner) as (planner,):
        result = run(planner, agent)

    assert result.outcome == PlannerOutcome.SUCCESS
    assert [phase for phase, _ in agent.calls] == ["outline", "critique", "title"]
    assert [s.critique_count for s in result.steps] == [1, 0]
    assert result.metrics.critique_count == 1
    assert result.diagnostics.critique_status == "exhausted"


# -- the real planners on the framework ------------------------------------------------------


def test_vision_planner_runs_on_fallback_with_default_scripted_replies() -> None:
    vision = catalog.get("vision")
    context = PlannerContext.create(ScriptedAgent(), correlation_id="corr-vision")

    result = vision.plan(context, {"projectTitle": "The Salt Road", "branch": "main"})

    assert result.outcome == PlannerOutcome.SUCCESS, result.error
    assert result.used_fallback is True
    assert result.execution is not None
    assert result.execution.template_id == "planner.fiction.vision"


def test_every_registered_planner_declares_template_variables() -> None:
    planners = [p for p in catalog.all() if "fiction" in p.metadata.capabilities]

    assert [p.slug for p in planners] == [
        "vision",
        "iterative",
        "chapter-architect",
        "scroll-refiner",
        "scene-weaver",
    ]
    for planner in planners:
        assert all(step.variables for step in planner.metadata.steps), planner.slug
