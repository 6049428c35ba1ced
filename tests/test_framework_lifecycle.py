"""The planner run lifecycle: order of events, and one execution row for every outcome."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from cognition.agents.base import AgentError, AgentReply, AgentService, ChatMessage
from cognition.agents.scripted import ScriptedAgent
from planners.framework.context import PlannerContext
from planners.framework.result import PlannerOutcome, PlannerResult
from planners.models import PlannerExecution, TelemetryEvent
from tests.factories.templates import make_template
from tests.toy_planner import BAD_REPLY, GOOD_REPLY, TOY_TEMPLATE, ToyPlanner, ToyReply, params

pytestmark = pytest.mark.django_db


def run(planner: ToyPlanner, agent: AgentService, **context: Any) -> PlannerResult:
    ctx = PlannerContext.create(agent, correlation_id="corr-toy-1", **context)
    return planner.plan(ctx, params())


class RecordingAgent(ScriptedAgent):
    """A scripted agent that also notes its calls in the planner's shared call log."""

    def chat(
        self, messages: Sequence[ChatMessage], *, phase: str = "", on_retry: Any = None
    ) -> AgentReply:
        ToyPlanner.calls.append(f"agent:{phase}")
        return super().chat(messages, phase=phase)


class _EventLog(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        ToyPlanner.calls.append(json.loads(record.getMessage())["event"])


@pytest.fixture
def event_log() -> Iterator[None]:
    handler = _EventLog()
    telemetry_logger = logging.getLogger("planners.telemetry")
    telemetry_logger.addHandler(handler)
    previous = telemetry_logger.level
    telemetry_logger.setLevel(logging.INFO)
    yield
    telemetry_logger.removeHandler(handler)
    telemetry_logger.setLevel(previous)


def test_successful_run_follows_design_order(toy: ToyPlanner, event_log: None) -> None:
    make_template(TOY_TEMPLATE, "Title a tale of {{topic}} in {{words}} words.")
    agent = RecordingAgent({"vision": GOOD_REPLY})

    result = run(toy, agent)

    assert result.outcome == PlannerOutcome.SUCCESS
    assert ToyPlanner.calls == [
        "template_variables",
        "planner.started",
        "agent:vision",
        "parse_reply",
        "planner.completed",
    ]
    assert result.artifacts["reply"] == ToyReply(title="The Lighthouse Keeper")
    assert agent.calls[0][1] == [ChatMessage("user", "Title a tale of a lighthouse in 4 words.")]


def test_successful_run_persists_one_linked_execution(toy: ToyPlanner) -> None:
    make_template(TOY_TEMPLATE, "Title a tale of {{topic}} in {{words}} words.")

    result = run(toy, ScriptedAgent({"vision": GOOD_REPLY}))

    execution = PlannerExecution.objects.get()
    assert result.execution == execution
    assert execution.outcome == "success"
    assert execution.planner_slug == "toy-title"
    assert (execution.template_id, execution.template_version) == (TOY_TEMPLATE, 1)
    assert execution.used_fallback is False
    assert execution.environment == "dev"
    assert execution.correlation_id == "corr-toy-1"
    assert execution.validation_status == "passed"
    assert execution.critique_status == "disabled"
    assert execution.prompt_tokens > 0
    assert execution.completion_tokens > 0
    assert execution.agent_provider == "scripted"
    assert execution.artifacts == {"replies": {"toy-title": {"title": "The Lighthouse Keeper"}}}
    assert [e["role"] for e in execution.transcript] == ["user", "assistant"]
    assert execution.finished_at >= execution.started_at
    events = TelemetryEvent.objects.order_by("pk")
    assert [e.name for e in events] == ["planner.started", "planner.completed"]
    assert {e.execution_id for e in events} == {execution.pk}
    assert events[1].payload["outcome"] == "success"
    assert events[1].payload["tags"] == {"family": "test"}


def test_invalid_reply_is_repaired_once_with_the_errors(toy: ToyPlanner) -> None:
    agent = ScriptedAgent({"vision": [BAD_REPLY, GOOD_REPLY]})

    result = run(toy, agent)

    assert result.outcome == PlannerOutcome.SUCCESS
    repair_request = agent.calls[1][1]
    assert repair_request[-2] == ChatMessage("assistant", BAD_REPLY)
    assert "key 'title': Field required" in repair_request[-1].content
    assert [(a.attempt, a.is_retry, a.validation_status) for a in result.attempts] == [
        (1, False, "failed"),
        (2, True, "passed"),
    ]


def test_reply_still_invalid_after_repair_blocks_with_reason(toy: ToyPlanner) -> None:
    result = run(toy, ScriptedAgent({"vision": [BAD_REPLY, BAD_REPLY]}))

    assert result.outcome == PlannerOutcome.BLOCKED
    assert "after one repair attempt" in result.error
    assert "'title'" in result.error
    execution = PlannerExecution.objects.get()
    assert execution.outcome == "blocked"
    assert execution.validation_status == "failed"
    assert "'title'" in execution.error
    assert len(result.attempts) == 2
    assert TelemetryEvent.objects.filter(name="planner.failed", execution=execution).exists()


def test_permanent_agent_error_is_a_failed_run(toy: ToyPlanner) -> None:
    agent = ScriptedAgent(fifo=[])  # an empty FIFO raises a permanent AgentError

    result = run(toy, agent)

    assert result.outcome == PlannerOutcome.FAILED
    assert "agent error (permanent)" in result.error
    execution = PlannerExecution.objects.get()
    assert execution.outcome == "failed"
    assert "FIFO queue is empty" in execution.error
    assert execution.validation_status == "unknown"


class FlakyAgent:
    provider = "flaky"
    model = "flaky-1"

    def chat(
        self, messages: Sequence[ChatMessage], *, phase: str = "", on_retry: Any = None
    ) -> AgentReply:
        raise AgentError("HTTP 503 from upstream", permanent=False, status_code=503)


def test_transient_agent_error_is_recorded_then_reraised_for_retry(toy: ToyPlanner) -> None:
    with pytest.raises(AgentError, match="503"):
        run(toy, FlakyAgent())

    execution = PlannerExecution.objects.get()
    assert execution.outcome == "failed"
    assert execution.error == "agent error (transient, HTTP 503): HTTP 503 from upstream"
    assert execution.agent_provider == "flaky"
    assert TelemetryEvent.objects.filter(name="planner.failed", execution=execution).exists()


def test_cancelled_run_never_calls_the_agent(toy: ToyPlanner) -> None:
    agent = ScriptedAgent({"vision": GOOD_REPLY})

    result = run(toy, agent, is_cancelled=lambda: True)

    assert result.outcome == PlannerOutcome.CANCELLED
    assert agent.calls == []
    assert PlannerExecution.objects.get().outcome == "cancelled"


def test_bad_params_fail_naming_the_field(toy: ToyPlanner) -> None:
    agent = ScriptedAgent({"vision": GOOD_REPLY})
    ctx = PlannerContext.create(agent, correlation_id="corr-bad-params")

    result = toy.plan(ctx, {"words": "many"})

    assert result.outcome == PlannerOutcome.FAILED
    assert "field 'topic': Field required" in result.error
    assert "field 'words'" in result.error
    assert agent.calls == []
    execution = PlannerExecution.objects.get()
    assert execution.outcome == "failed"
    assert execution.template_id == TOY_TEMPLATE
    assert [e.name for e in TelemetryEvent.objects.all()] == ["planner.failed"]


def test_hook_bug_is_recorded_then_reraised(
    toy: ToyPlanner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> ToyReply:
        raise KeyError("oops")

    monkeypatch.setattr(toy, "parse_reply", broken)

    with pytest.raises(KeyError):
        run(toy, ScriptedAgent({"vision": GOOD_REPLY}))

    assert "internal error: KeyError" in PlannerExecution.objects.get().error


def test_agent_reply_metrics_are_summed(toy: ToyPlanner) -> None:
    class CountingAgent:
        provider, model = "counting", "c-1"

        def chat(
            self, messages: Sequence[ChatMessage], *, phase: str = "", on_retry: Any = None
        ) -> AgentReply:
            return AgentReply(GOOD_REPLY, 120, 30, 250, "counting", "c-1")

    result = run(toy, CountingAgent())

    execution = result.execution
    assert execution is not None
    assert (execution.prompt_tokens, execution.completion_tokens, execution.latency_ms) == (
        120,
        30,
        250,
    )
    assert execution.agent_model == "c-1"


def test_a_run_costs_a_fixed_number_of_queries(
    toy: ToyPlanner, django_assert_num_queries: Any
) -> None:
    make_template(TOY_TEMPLATE, "Title a tale of {{topic}} in {{words}} words.")
    agent = ScriptedAgent({"vision": GOOD_REPLY})

    # template look-up, then in a savepoint: the execution insert and one insert of both
    # events already linked to it.
    with django_assert_num_queries(5):
        run(toy, agent)
