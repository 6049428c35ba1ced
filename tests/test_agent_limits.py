"""Provider limits per agent backend, in both stores: the database and Redis.

Time is passed in (``now``), so a pacing interval or a dead worker's lease runs out without
waiting for it.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.test import Client
from django.urls import reverse

from cognition.agents.base import AgentError, AgentReply
from cognition.agents.limits import (
    BOOKING_HORIZON_SECONDS,
    BUSY_WAIT_SECONDS,
    REQUEST_SPACING_MARGIN,
    SEND_LEAD_SECONDS,
    Admission,
    AgentOnTurn,
    DatabaseLimiter,
    ProviderLimiter,
    ProviderLimits,
    RedisLimiter,
    provider_limiter,
)
from cognition.models import AgentBackendLimit
from tests.conftest import redis_url

LEASE_SECONDS = 630.0
#: the session, the user, two counts (filtered and all) and the page of rows
QUERIES = 5
T0 = time.time()


@pytest.fixture(
    params=[
        pytest.param("database", marks=pytest.mark.django_db),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def limiter(request: pytest.FixtureRequest) -> Iterator[ProviderLimiter]:
    if request.param == "database":
        yield DatabaseLimiter()
        return
    url = redis_url()
    assert url is not None
    yield RedisLimiter(redis.Redis.from_url(url))


@pytest.fixture
def backend(limiter: ProviderLimiter) -> Iterator[str]:
    """A backend name of this test's own, so runs sharing a Redis do not meet."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    limiter.clear(name)


def admit(
    limiter: ProviderLimiter,
    backend: str,
    lease: str,
    *,
    at: float,
    tokens: int = 100,
    lease_seconds: float = LEASE_SECONDS,
    **limits: Any,
) -> Admission:
    return limiter.admit(
        backend,
        lease,
        tokens=tokens,
        lease_seconds=lease_seconds,
        limits=ProviderLimits(**{"max_concurrency": 64, **limits}),
        now=T0 + at,
    )


def test_calls_beyond_max_concurrency_wait_until_one_is_released(
    limiter: ProviderLimiter, backend: str
) -> None:
    assert admit(limiter, backend, "task-a", at=0, max_concurrency=2).admitted
    assert admit(limiter, backend, "task-b", at=0.1, max_concurrency=2).admitted

    refused = admit(limiter, backend, "task-c", at=0.2, max_concurrency=2)
    assert refused == Admission(False, BUSY_WAIT_SECONDS, "busy")

    limiter.release(backend, "task-a")
    assert admit(limiter, backend, "task-c", at=0.3, max_concurrency=2).admitted


def test_lease_of_a_dead_worker_expires_and_frees_its_slot(
    limiter: ProviderLimiter, backend: str
) -> None:
    # task-a's worker dies mid-call: nothing ever releases its lease.
    assert admit(limiter, backend, "task-a", at=0, lease_seconds=30, max_concurrency=1).admitted

    assert admit(limiter, backend, "task-b", at=29, max_concurrency=1).reason == "busy"
    assert admit(limiter, backend, "task-b", at=31, max_concurrency=1).admitted


def test_redelivered_task_takes_over_its_own_lease(limiter: ProviderLimiter, backend: str) -> None:
    assert admit(limiter, backend, "task-a", at=0, max_concurrency=1).admitted

    # The same task id again (its worker died and the broker handed the message back).
    assert admit(limiter, backend, "task-a", at=5, max_concurrency=1).admitted
    assert admit(limiter, backend, "task-b", at=6, max_concurrency=1).reason == "busy"


#: 600 a minute, spaced wider against the send's jitter: a turn every 0.103 s.
STEP = 0.1 * (1 + REQUEST_SPACING_MARGIN)
#: The first turn of an idle backend: time for the phase to get to the send.
LEAD = SEND_LEAD_SECONDS
#: How many turns fit between the lead and the booking horizon at 600 a minute.
BOOKED = int((BOOKING_HORIZON_SECONDS - LEAD) / STEP) + 1


def test_requests_per_minute_give_turns_one_interval_apart_up_to_the_horizon(
    limiter: ProviderLimiter, backend: str
) -> None:
    # Twenty callers at the same instant: those whose turn comes within the booking horizon
    # are admitted with it, none two at once; the rest are told to come back when theirs does.
    answers = [
        admit(limiter, backend, f"call-{n}", at=0, requests_per_minute=600) for n in range(20)
    ]
    admitted = [answer for answer in answers if answer.admitted]
    assert [answer.turn - T0 for answer in admitted] == [
        pytest.approx(LEAD + n * STEP, abs=0.002) for n in range(BOOKED)
    ]
    assert answers[:BOOKED] == admitted
    next_turn = LEAD + BOOKED * STEP
    assert {answer.reason for answer in answers[BOOKED:]} == {"requests"}
    assert all(
        answer.wait == pytest.approx(next_turn - BOOKING_HORIZON_SECONDS, abs=0.002)
        for answer in answers[BOOKED:]
    )

    # Coming back when told, one more goes, its turn one interval after the last.
    back = admit(
        limiter,
        backend,
        f"call-{BOOKED}",
        at=next_turn - BOOKING_HORIZON_SECONDS,
        requests_per_minute=600,
    )
    assert back.turn - T0 == pytest.approx(next_turn, abs=0.002)


def test_callers_that_come_back_when_told_get_turns_one_interval_apart(
    limiter: ProviderLimiter, backend: str
) -> None:
    turns = []
    waiting = {f"call-{n}": 0.0 for n in range(20)}
    while waiting:
        lease, at = min(waiting.items(), key=lambda pair: (pair[1], pair[0]))
        answer = admit(limiter, backend, lease, at=at, requests_per_minute=600)
        if answer.admitted:
            assert answer.turn - T0 <= at + BOOKING_HORIZON_SECONDS + 0.002
            turns.append(answer.turn - T0)
            del waiting[lease]
        else:
            waiting[lease] = at + answer.wait

    steps = [later - earlier for earlier, later in itertools.pairwise(turns)]
    assert steps == [pytest.approx(STEP, abs=0.002)] * 19
    assert turns[-1] == pytest.approx(LEAD + 19 * STEP, abs=0.01)  # never two at once


def test_tokens_per_minute_space_turns_by_what_each_call_costs(
    limiter: ProviderLimiter, backend: str
) -> None:
    # 60,000 tokens a minute: 100 tokens are worth 0.1 s. The first call's turn comes after the
    # lead, the next ones' when the tokens before them are paid off, as far as the horizon.
    answers = [
        admit(limiter, backend, f"call-{n}", at=0, tokens=100, tokens_per_minute=60_000)
        for n in range(20)
    ]
    admitted = [answer.turn - T0 for answer in answers if answer.admitted]
    assert admitted == [pytest.approx(LEAD + n * 0.1, abs=0.002) for n in range(9)]
    assert {answer.reason for answer in answers[9:]} == {"tokens"}
    assert all(answer.wait == pytest.approx(0.1, abs=0.002) for answer in answers[9:])

    big = admit(limiter, backend, "call-9", at=0.1, tokens=300, tokens_per_minute=60_000)
    assert big.turn - T0 == pytest.approx(1.1, abs=0.002)
    refused = admit(limiter, backend, "call-10", at=0.2, tokens=100, tokens_per_minute=60_000)
    assert (refused.reason, refused.wait) == ("tokens", pytest.approx(0.2, abs=0.002))


def test_call_bigger_than_the_token_budget_goes_and_holds_the_next_off(
    limiter: ProviderLimiter, backend: str
) -> None:
    assert admit(limiter, backend, "huge", at=0, tokens=5000, tokens_per_minute=1000).admitted

    refused = admit(limiter, backend, "small", at=1, tokens=1, tokens_per_minute=1000)
    assert (refused.reason, refused.wait) == ("tokens", pytest.approx(298.2, abs=0.01))
    later = admit(limiter, backend, "small", at=299.2, tokens=1, tokens_per_minute=1000)
    assert later.turn - T0 == pytest.approx(300.2, abs=0.01)


def test_refusal_gives_the_longer_of_the_requests_and_tokens_waits(
    limiter: ProviderLimiter, backend: str
) -> None:
    limits = {"requests_per_minute": 60, "tokens_per_minute": 6000}  # 1 s a call, 1 s a 100
    assert admit(limiter, backend, "call-1", at=0, tokens=500, **limits).admitted

    refused = admit(limiter, backend, "call-2", at=0, tokens=100, **limits)
    assert (refused.reason, refused.wait) == ("tokens", pytest.approx(4.2, abs=0.01))
    # A refused call takes nothing from the budgets: at 4.2 s it goes, its turn at 5.2 s.
    answer = admit(limiter, backend, "call-2", at=4.2, tokens=100, **limits)
    assert answer.turn - T0 == pytest.approx(5.2, abs=0.01)


def test_pause_refuses_every_call_until_it_ends(limiter: ProviderLimiter, backend: str) -> None:
    limiter.pause(backend, 2.0, now=T0)
    # A shorter pause heard later does not cut the first one short.
    limiter.pause(backend, 0.5, now=T0 + 0.5)

    refused = admit(limiter, backend, "task-a", at=1.25)
    assert (refused.admitted, refused.reason) == (False, "paused")
    assert refused.wait == pytest.approx(0.75, abs=0.01)
    assert admit(limiter, backend, "task-a", at=2.01).admitted


def test_limits_hold_per_backend(limiter: ProviderLimiter, backend: str) -> None:
    other = f"{backend}-other"
    try:
        limiter.pause(backend, 30.0, now=T0)
        assert admit(limiter, backend, "task-a", at=1, max_concurrency=1).reason == "paused"
        assert admit(limiter, other, "task-a", at=1, max_concurrency=1).admitted
    finally:
        limiter.clear(other)


def test_released_lease_unknown_to_the_limiter_is_ignored(
    limiter: ProviderLimiter, backend: str
) -> None:
    limiter.release(backend, "never-admitted")
    assert admit(limiter, backend, "task-a", at=0, max_concurrency=1).admitted


@pytest.mark.django_db
def test_database_keeps_one_row_per_backend_with_its_leases_and_pacing() -> None:
    limiter = DatabaseLimiter()
    limits = {"requests_per_minute": 60, "tokens_per_minute": 60_000}
    admit(limiter, "openai", "task-a", at=0, tokens=250, **limits)
    admit(limiter, "openai", "task-b", at=1, tokens=50, **limits)
    limiter.release(backend="openai", lease="task-a")
    limiter.pause("openai", 3.0, now=T0 + 2)

    row = AgentBackendLimit.objects.get(backend="openai")
    assert list(row.leases) == ["task-b"]
    assert row.requests_tat is not None
    assert row.tokens_tat is not None
    # Requests: 1.06 s a call, turns at 0.2 and 1.26; tokens: 0.25 s from the first turn, then
    # 0.05 s from the second.
    assert row.requests_tat.timestamp() == pytest.approx(T0 + 2.32, abs=0.01)
    assert row.tokens_tat.timestamp() == pytest.approx(T0 + 1.31, abs=0.01)
    assert row.paused_until is not None
    assert row.paused_until.timestamp() == pytest.approx(T0 + 5, abs=0.01)


def test_limits_live_in_redis_when_the_broker_is_redis(settings: Any) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/11"
    assert isinstance(provider_limiter(), RedisLimiter)
    settings.CELERY_BROKER_URL = "filesystem://"
    assert isinstance(provider_limiter(), DatabaseLimiter)


@pytest.mark.django_db
def test_admin_lists_each_backend_with_its_calls_in_flight_and_pause(
    admin_client: Client, django_assert_num_queries: Any
) -> None:
    limiter = DatabaseLimiter()
    now = time.time()
    for lease, started in (("dead-task", now - 10), ("task-a", now)):
        limiter.admit(
            "openai", lease, tokens=10, lease_seconds=5, limits=ProviderLimits(8), now=started
        )
    limiter.pause("openai", 30.0)

    with django_assert_num_queries(QUERIES):
        response = admin_client.get(reverse("admin:cognition_agentbackendlimit_changelist"))

    assert response.status_code == 200
    row = response.content.decode().split('class="field-calls_in_flight">', 1)[1]
    assert row.startswith("1<")  # the dead task's lease has expired


class _ClockedAgent:
    """An agent that notes when each call was sent."""

    provider = "test"
    model = "test-model"

    def __init__(self) -> None:
        self.sent: list[float] = []

    def chat(self, messages: Any, *, phase: str = "", on_retry: Any = None) -> AgentReply:
        self.sent.append(time.time())
        return AgentReply("{}", 1, 1, 1, self.provider, self.model)


def test_call_waits_for_its_turn_and_a_late_one_asks_for_another() -> None:
    agent = _ClockedAgent()
    soon = time.time() + 0.2
    AgentOnTurn(agent, soon, rebook=lambda: pytest.fail("on time: no new turn")).chat([])
    assert soon <= agent.sent[0] < soon + 0.1

    # Woken a second after its turn (a busy machine): it does not go at once, but at the turn
    # the limits give it now.
    rebooked = []

    def rebook() -> Admission:
        rebooked.append(time.time())
        return Admission(True, turn=time.time() + 0.2)

    AgentOnTurn(agent, time.time() - 1, rebook=rebook).chat([])
    assert len(rebooked) == 1
    assert agent.sent[1] >= rebooked[0] + 0.2


def test_late_call_on_a_paused_backend_fails_with_the_rest_of_the_pause() -> None:
    agent = _ClockedAgent()
    on_turn = AgentOnTurn(agent, time.time() - 1, rebook=lambda: Admission(False, 2.5, "paused"))
    with pytest.raises(AgentError) as raised:
        on_turn.chat([])
    assert (raised.value.permanent, raised.value.retry_after) == (False, 2.5)
    assert agent.sent == []
