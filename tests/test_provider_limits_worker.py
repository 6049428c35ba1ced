"""Provider limits on a real worker, against an OpenAI-compatible server on 127.0.0.1.

Non-fiction plans run on the ``openai`` backend; the server answers each planner's prompt with
its canned reply and counts what reaches it. On a laptop the limits live in the database (SQLite,
filesystem broker); in CI's second pass in Redis (PostgreSQL, Redis broker).
"""

from __future__ import annotations

from typing import Any

import pytest

from cognition.agents.limits import provider_limiter
from planners.actions import create_plan, start_pipeline
from planners.models import Plan, Project
from planners.nonfiction.scripted_replies import DEFAULT_REPLIES
from tests.servers import Canned, ChatServer, completion
from tests.worker import CeleryWorker, wait_until

PLAN_TIMEOUT = 18.0
#: A line of each non-fiction planner's prompt, for the server to tell which one is asking.
PROMPT_MARKERS = {
    "You are planning the non-fiction book": "brief",
    "You are outlining the non-fiction plan": "outline",
    "You are drafting one section of the non-fiction plan": "sectionDraft",
}


def planner_reply(request: dict[str, Any], *, delay: float = 0.0) -> Canned:
    prompt = "\n".join(message["content"] for message in request["json"]["messages"])
    phase = next(phase for marker, phase in PROMPT_MARKERS.items() if marker in prompt)
    reply = completion(DEFAULT_REPLIES[phase])
    reply.delay = delay
    return reply


def openai_worker_env(server: ChatServer, **limits: str) -> dict[str, str]:
    return {
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": "",
        "AGENT_TIMEOUT_SECONDS": "10",
        **limits,
    }


def start_plans(count: int) -> list[Plan]:
    plans = []
    for number in range(1, count + 1):
        project = Project.objects.create(
            title=f"Grid Storage, volume {number}", description="Batteries at city scale."
        )
        plan = create_plan(project, pipeline="nonfiction", agent_backend="openai", actor="olivia")
        start_pipeline(plan, actor="olivia")
        plans.append(plan)
    return plans


def wait_for_plans(plans: list[Plan], worker: CeleryWorker) -> None:
    def all_complete() -> bool:
        ids = [plan.pk for plan in plans]
        return Plan.objects.filter(pk__in=ids, status=Plan.Status.COMPLETE).count() == len(ids)

    wait_until(
        all_complete,
        timeout=PLAN_TIMEOUT,
        interval=0.2,
        what=f"every plan to complete; worker log:\n{worker.log()}",
    )


@pytest.fixture
def fresh_limits() -> None:
    """Nothing left of an earlier test's calls (a Redis outlives the test database)."""
    provider_limiter().clear("openai")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_calls_in_flight_never_exceed_max_concurrency_across_worker_processes(
    celery_worker: CeleryWorker,
    chat_server: ChatServer,
    fresh_limits: None,
) -> None:
    # Each reply takes a quarter of a second: the two calls admitted together overlap at the
    # server, and the four other pool processes asking meanwhile are refused.
    chat_server.answer = lambda request: planner_reply(request, delay=0.25)
    celery_worker.start(openai_worker_env(chat_server, AGENT_MAX_CONCURRENCY="2"), concurrency=6)

    plans = start_plans(6)

    wait_for_plans(plans, celery_worker)
    assert len(chat_server.calls) == 6 * 4  # brief, outline, two sections: no call twice
    assert chat_server.max_in_flight == 2
    # Six pool processes wanted to call at once: the others were re-queued, not blocked.
    assert "'deferred'" in celery_worker.log()
    assert "limit (busy)" in celery_worker.log()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_rate_limit_pauses_the_backend_for_every_worker_until_retry_after(
    celery_worker: CeleryWorker,
    chat_server: ChatServer,
    fresh_limits: None,
) -> None:
    def answer(request: dict[str, Any]) -> Canned:
        if len(chat_server.requests) == 1:
            return Canned(429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "2"})
        return planner_reply(request)

    chat_server.answer = answer
    # One call at a time, so every call that follows the 429 was admitted after it: none may
    # arrive before the pause ends. The other plan's phases, refused while the slot was busy,
    # come back within a second: inside the pause. 120 requests a minute: one every 0.5 s.
    celery_worker.start(
        openai_worker_env(chat_server, AGENT_MAX_CONCURRENCY="1", AGENT_REQUESTS_PER_MINUTE="120"),
        concurrency=4,
    )

    plans = start_plans(2)

    wait_for_plans(plans, celery_worker)
    limited, *answered = chat_server.calls
    assert limited.status == 429
    assert [call.status for call in answered] == [200] * 8
    pause_ends = limited.answered + 2.0
    during_pause = [call for call in answered if limited.answered < call.arrived < pause_ends]
    assert during_pause == []
    # Spaced, not sent as fast as the slot frees: each reaches the server at its turn, so a
    # provider counting per second never sees more than two in one (turns are booked up to a
    # second ahead: a call sent when it was admitted would arrive early).
    spans = [answered[n + 2].arrived - answered[n].arrived for n in range(len(answered) - 2)]
    assert min(spans) >= 1.0
    assert answered[-1].arrived - answered[0].arrived >= 7 * 0.5
    assert "agent backend openai paused for 2.0s" in celery_worker.log()
    assert "limit (paused)" in celery_worker.log()
