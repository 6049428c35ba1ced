"""Every agent attempt of a phase leaves a transcript: a retried 429 or 5xx, a bad reply and its
repair, a call that raised, and (see test_pipeline_worker) an attempt whose worker was killed."""

from __future__ import annotations

from typing import Any

import pytest

from cognition.agents.openai import OpenAIChatAgent
from cognition.agents.scripted import ScriptedAgent
from planners.actions import create_plan, start_pipeline
from planners.fiction.scripted_replies import DEFAULT_REPLIES
from planners.models import BacklogItem, PhaseTranscript, PlannerExecution, Project
from planners.pipeline.phase import PhaseResult, run_item_phase
from planners.tasks import retry_countdown
from tests.servers import Canned, ChatServer, completion

pytestmark = pytest.mark.django_db


@pytest.fixture
def vision_item() -> BacklogItem:
    plan = create_plan(Project.objects.create(title="The Salt Road"), actor="olivia")
    return plan.backlog_items.get()


def _agent(server: ChatServer) -> OpenAIChatAgent:
    return OpenAIChatAgent(
        base_url=server.base_url,
        api_key="sk-test",
        model="gpt-test",
        timeout=5.0,
    )


def _attempts(item: BacklogItem) -> list[tuple[int, str, str]]:
    return list(
        PhaseTranscript.objects.filter(backlog_item=item)
        .order_by("attempt")
        .values_list("attempt", "outcome", "validation_status")
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("eager_tasks")
def test_rate_limited_and_failed_tries_are_recorded_before_the_reply_that_passed(
    chat_server: ChatServer,
    vision_item: BacklogItem,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.AGENT_RETRY_BACKOFF_SECONDS = 0
    chat_server.respond(
        Canned(status=429, body={"error": {"message": "slow down"}}, headers={"Retry-After": "1"}),
        Canned(status=503, body={"error": {"message": "overloaded"}}),
        completion(str(DEFAULT_REPLIES["vision"])),
    )
    monkeypatch.setattr(
        "planners.tasks.get_agent_service", lambda backend=None: _agent(chat_server)
    )

    with django_capture_on_commit_callbacks(execute=True):
        start_pipeline(vision_item.plan, actor="olivia")

    # One retry layer: each failed call ended the task's attempt, which the task retried.
    vision_item.refresh_from_db()
    assert vision_item.status == "complete"
    assert vision_item.attempts == 3
    assert _attempts(vision_item) == [
        (1, "error", "unknown"),
        (2, "error", "unknown"),
        (3, "passed", "passed"),
    ]
    rows = list(PhaseTranscript.objects.filter(backlog_item=vision_item).order_by("attempt"))
    assert "429" in rows[0].metadata["error"]
    assert "503" in rows[1].metadata["error"]
    assert all(row.metadata["backlogItemId"] == "vision-plan" for row in rows)
    assert rows[2].response
    assert rows[2].completion_tokens == 7
    assert rows[2].execution_id == PlannerExecution.objects.get(outcome="success").pk


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("eager_tasks")
def test_waiting_out_a_providers_retry_after_does_not_use_up_the_retries(
    chat_server: ChatServer,
    vision_item: BacklogItem,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.AGENT_RETRY_BACKOFF_SECONDS = 0
    settings.PIPELINE_MAX_RETRIES = 1
    slow_down = Canned(
        status=429, body={"error": {"message": "slow down"}}, headers={"Retry-After": "1"}
    )
    overloaded = Canned(
        status=503, body={"error": {"message": "overloaded"}}, headers={"Retry-After": "1"}
    )
    chat_server.respond(
        slow_down, overloaded, slow_down, completion(str(DEFAULT_REPLIES["vision"]))
    )
    monkeypatch.setattr(
        "planners.tasks.get_agent_service", lambda backend=None: _agent(chat_server)
    )

    with django_capture_on_commit_callbacks(execute=True):
        start_pipeline(vision_item.plan, actor="olivia")

    # Three waits the provider asked for, with one retry allowed: the phase still completes.
    vision_item.refresh_from_db()
    assert vision_item.status == "complete"
    assert vision_item.attempts == 4
    assert [outcome for _, outcome, _ in _attempts(vision_item)] == ["error"] * 3 + ["passed"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("eager_tasks")
def test_failures_without_retry_after_use_up_the_retries(
    chat_server: ChatServer,
    vision_item: BacklogItem,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.AGENT_RETRY_BACKOFF_SECONDS = 0
    settings.PIPELINE_MAX_RETRIES = 1
    overloaded = Canned(status=503, body={"error": {"message": "overloaded"}})
    chat_server.respond(overloaded, overloaded, completion(str(DEFAULT_REPLIES["vision"])))
    monkeypatch.setattr(
        "planners.tasks.get_agent_service", lambda backend=None: _agent(chat_server)
    )

    with django_capture_on_commit_callbacks(execute=True):
        start_pipeline(vision_item.plan, actor="olivia")

    vision_item.refresh_from_db()
    assert vision_item.status == "failed"
    assert vision_item.attempts == 2
    assert "overloaded" in vision_item.last_error


def test_the_retry_waits_at_least_as_long_as_the_provider_asked() -> None:
    assert retry_countdown(0, retry_after=30.0) == 30.0
    waits = [retry_countdown(3) for _ in range(50)]
    assert all(0.5 * 8 <= wait <= 8 for wait in waits)  # backoff 1 s x 2^3, jittered
    assert len(set(waits)) > 1


def test_a_call_that_fails_for_good_is_an_error_attempt(
    chat_server: ChatServer, vision_item: BacklogItem
) -> None:
    chat_server.respond(Canned(status=401, body={"error": {"message": "bad key"}}))

    result = run_item_phase(vision_item, _agent(chat_server), correlation_id="refused")

    assert isinstance(result, PhaseResult)
    assert result.status == "failed"
    ((attempt, outcome, _),) = _attempts(vision_item)
    assert (attempt, outcome) == (1, "error")
    vision_item.refresh_from_db()
    assert vision_item.attempts == 1


def test_a_bad_reply_and_its_repair_are_two_attempts(vision_item: BacklogItem) -> None:
    agent = ScriptedAgent(
        replies={**DEFAULT_REPLIES, "vision": ['{"authorSummary": 1}', DEFAULT_REPLIES["vision"]]}
    )

    result = run_item_phase(vision_item, agent, correlation_id="repaired")

    assert isinstance(result, PhaseResult)
    assert result.status == "completed"
    assert _attempts(vision_item) == [(1, "failed", "failed"), (2, "passed", "passed")]


def test_an_item_no_registered_pipeline_runs_fails_with_the_reason(
    vision_item: BacklogItem,
) -> None:
    BacklogItem.objects.filter(pk=vision_item.pk).update(phase="noSuchPhase")
    vision_item.refresh_from_db()

    assert run_item_phase(vision_item, ScriptedAgent(), correlation_id="gone") == "unknown-phase"

    vision_item.refresh_from_db()
    assert vision_item.status == "failed"
    assert "no phase 'noSuchPhase'" in vision_item.last_error
