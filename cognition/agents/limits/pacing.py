"""What a backend's limits are, what an admission answers, and the pacing rule both stores keep.

Requests and tokens are spaced evenly, by the generic cell rate algorithm: each backend keeps a
theoretical arrival time (TAT) for requests and one for tokens, the moment by which everything
admitted so far would have gone out at the steady rate. A call's turn is the later of the two
(and no sooner than ``SEND_LEAD_SECONDS`` from now); it is admitted while its turn is at most
``BOOKING_HORIZON_SECONDS`` away, and then
the requests' TAT moves to its turn plus ``60/rpm`` seconds (widened by
``REQUEST_SPACING_MARGIN``) and the tokens' TAT to its turn plus ``tokens * 60/tpm``; otherwise
it waits until its turn is within the horizon. An admitted call waits for its turn in its
worker, right before it is sent (``AgentOnTurn``), so requests reach the provider one interval
apart whatever the work between the admission and the send; no call goes early, so no burst
beyond the steady rate ever starts. A call bigger than the whole per-minute token budget still
goes, and holds the next one off for as long as its tokens are worth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

MINUTE = 60.0
#: Slack for floating-point rounding: Unix seconds carry about a microsecond of precision, so a
#: call arriving exactly when its wait ends must not be refused for the last digit.
ROUNDING_SECONDS = 0.001
#: How long a call refused for want of a free slot waits before asking again: a slot frees when
#: some call ends, which nobody can predict, so the caller comes back soon.
BUSY_WAIT_SECONDS = 0.5
#: How far ahead a call may be given its turn. It waits for it in its worker thread, after its
#: claim and prompt; farther ahead, it frees the thread and comes back.
BOOKING_HORIZON_SECONDS = 1.0
#: A paced call's turn is never sooner than this: the phase's claim, parameters and prompt
#: come between the admission and the send, and a call sent after its turn would leave less
#: than an interval before the next one.
SEND_LEAD_SECONDS = 0.2
#: Requests are spaced this much wider than ``60/rpm``: a call leaves a few milliseconds after
#: its turn, some later than others, and a provider counting over a second must never see one
#: more than the rate (6% of a second is 60 ms of such jitter across a second's calls: a busy
#: worker process can hold a woken thread that long before its request is written).
REQUEST_SPACING_MARGIN = 0.06


@dataclass(frozen=True)
class ProviderLimits:
    """The limits one backend is held to (None: unlimited)."""

    max_concurrency: int
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    @classmethod
    def from_settings(cls) -> ProviderLimits:
        return cls(
            max_concurrency=settings.AGENT_MAX_CONCURRENCY,
            requests_per_minute=settings.AGENT_REQUESTS_PER_MINUTE,
            tokens_per_minute=settings.AGENT_TOKENS_PER_MINUTE,
        )

    @property
    def request_interval(self) -> float | None:
        """Seconds between two requests' turns; None: unlimited."""
        if self.requests_per_minute is None:
            return None
        return MINUTE / self.requests_per_minute * (1 + REQUEST_SPACING_MARGIN)


@dataclass(frozen=True)
class Admission:
    """Whether a call may go; if so ``turn``, the Unix time it may be sent at (0: now); if not,
    ``wait`` seconds before asking again and ``reason``: ``paused``, ``busy`` (every slot
    taken), ``requests`` or ``tokens`` (its turn is beyond the booking horizon)."""

    admitted: bool
    wait: float = 0.0
    reason: str = ""
    turn: float = 0.0


ADMITTED = Admission(True)


class ProviderLimiter(Protocol):
    def admit(
        self,
        backend: str,
        lease: str,
        *,
        tokens: int,
        lease_seconds: float,
        limits: ProviderLimits,
        now: float | None = None,
    ) -> Admission:
        """Admit one call of ``backend`` under ``lease`` (held until released or expired)
        charging ``tokens`` against the per-minute rate, or say how long to wait."""
        ...

    def release(self, backend: str, lease: str) -> None:
        """The call under ``lease`` ended: its slot is free."""
        ...

    def pause(self, backend: str, seconds: float, *, now: float | None = None) -> None:
        """The provider asked callers to wait ``seconds``: refuse every call until then (a
        later pause already recorded stands)."""
        ...

    def clear(self, backend: str) -> None:
        """Forget the backend's leases, pacing and pause (an operator's reset; tests)."""
        ...


@dataclass(frozen=True)
class Pacing:
    """A backend's theoretical arrival times (Unix seconds; None: nothing admitted yet), and
    what admitting a call at ``now`` makes of them, or why it must wait."""

    requests: float | None
    tokens: float | None

    def admit(
        self, limits: ProviderLimits, tokens: int, now: float
    ) -> tuple[Pacing, float] | Admission:
        """The pacing after admitting the call and the call's turn (0: unpaced, now), or the
        refusal."""
        interval, tpm = limits.request_interval, limits.tokens_per_minute
        if interval is None and tpm is None:
            return self, 0.0
        request_turn = max(self.requests or now, now) if interval is not None else now
        token_turn = max(self.tokens or now, now) if tpm is not None else now
        turn = max(request_turn, token_turn, now + SEND_LEAD_SECONDS)
        wait = turn - BOOKING_HORIZON_SECONDS - now
        if wait > ROUNDING_SECONDS:
            return Admission(False, wait, "tokens" if token_turn > request_turn else "requests")
        return (
            Pacing(
                turn + interval if interval is not None else self.requests,
                turn + tokens * MINUTE / tpm if tpm is not None else self.tokens,
            ),
            turn,
        )
