"""Provider limits per agent backend, kept where every worker process sees them.

An admission asks for one call of a backend. It is refused while the provider's pause runs (a
429's ``Retry-After``), while ``AGENT_MAX_CONCURRENCY`` calls of the backend are in flight, or
while it would go faster than ``AGENT_REQUESTS_PER_MINUTE`` or ``AGENT_TOKENS_PER_MINUTE``
allow; a refusal says how long to wait. The limiter only admits or refuses: waiting is the caller's
business (the phase task re-queues itself with a countdown and frees its worker).

The state lives in Redis when the broker is Redis (each operation one Lua script, so atomic),
otherwise in the database (one ``AgentBackendLimit`` row per backend, locked by each
operation). A call in flight holds a lease that expires by itself, so the slot of a worker that
died comes back after ``lease_seconds``; an admission under a lease id already held (the same
task redelivered after its worker died) takes that lease over instead of waiting for it.

Requests and tokens are spaced evenly, by the generic cell rate algorithm: each backend keeps a
theoretical arrival time (TAT) for requests and one for tokens, the moment by which everything
admitted so far would have gone out at the steady rate. A call is admitted when
``tat - now <= tolerance``, and then ``tat = max(tat, now) + cost`` (a request costs ``60/rpm``
seconds, a call's tokens ``tokens * 60/tpm``); otherwise it waits ``tat - tolerance - now``.
The requests' tolerance is one interval: at most one call beyond the steady rate starts at once
(two at the same instant, then one every ``60/rpm`` seconds), which keeps a provider that
limits per second from answering the burst with 429s. The tokens' tolerance is nil: a call goes
once the tokens before it are paid off at the steady rate, and is itself the burst; so a call
bigger than the whole per-minute budget still goes, and holds the next one off for as long as
its tokens are worth.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cognition.models import AgentBackendLimit

MINUTE = 60.0
#: Slack for floating-point rounding: Unix seconds carry about a microsecond of precision, so a
#: call arriving exactly when its wait ends must not be refused for the last digit.
ROUNDING_SECONDS = 0.001
#: How long a call refused for want of a free slot waits before asking again: a slot frees when
#: some call ends, which nobody can predict, so the caller comes back soon.
BUSY_WAIT_SECONDS = 0.5


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


@dataclass(frozen=True)
class Admission:
    """Whether a call may go now; if not, ``wait`` seconds before asking again and ``reason``:
    ``paused``, ``busy`` (every slot taken), ``requests`` or ``tokens`` (going now would go faster
    than the per-minute rate)."""

    admitted: bool
    wait: float = 0.0
    reason: str = ""


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


def provider_limiter() -> ProviderLimiter:
    """The limiter every worker shares: Redis when the broker is Redis, else the database."""
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        return _redis_limiter(url)
    return DatabaseLimiter()


@dataclass(frozen=True)
class Pacing:
    """A backend's theoretical arrival times (Unix seconds; None: nothing admitted yet), and
    what admitting a call at ``now`` makes of them, or why it must wait."""

    requests: float | None
    tokens: float | None

    def admit(self, limits: ProviderLimits, tokens: int, now: float) -> Pacing | Admission:
        """The pacing after admitting the call, or the refusal with the longer of the waits."""
        request_tat, token_tat = self.requests, self.tokens
        refusal = Admission(True)
        if limits.requests_per_minute is not None:
            interval = MINUTE / limits.requests_per_minute
            request_tat = max(request_tat or now, now)
            wait = request_tat - interval - now
            if wait > ROUNDING_SECONDS:
                refusal = Admission(False, wait, "requests")
            request_tat += interval
        if limits.tokens_per_minute is not None:
            token_tat = max(token_tat or now, now)
            wait = token_tat - now
            if wait > ROUNDING_SECONDS and wait > refusal.wait:
                refusal = Admission(False, wait, "tokens")
            token_tat += tokens * MINUTE / limits.tokens_per_minute
        if not refusal.admitted:
            return refusal
        return Pacing(request_tat, token_tat)


# --- the database --------------------------------------------------------------------------


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _seconds(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


class DatabaseLimiter:
    """Limits in ``AgentBackendLimit`` rows: each operation locks its backend's row."""

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
        now = time.time() if now is None else now
        with transaction.atomic():
            row = _locked_row(backend)
            admission = _admit_row(row, lease, tokens, lease_seconds, limits, now)
            row.save()
        return admission

    def release(self, backend: str, lease: str) -> None:
        with transaction.atomic():
            row = _locked_row(backend)
            if row.leases.pop(lease, None) is not None:
                row.save(update_fields=["leases", "updated_at"])

    def pause(self, backend: str, seconds: float, *, now: float | None = None) -> None:
        until = _moment((time.time() if now is None else now) + seconds)
        with transaction.atomic():
            row = _locked_row(backend)
            if row.paused_until is None or row.paused_until < until:
                row.paused_until = until
                row.save(update_fields=["paused_until", "updated_at"])

    def clear(self, backend: str) -> None:
        AgentBackendLimit.objects.filter(backend=backend).delete()


def _locked_row(backend: str) -> AgentBackendLimit:
    """The backend's row (made on first use), locked until the transaction ends. The first
    statement writes, so SQLite takes its write lock before reading (a transaction that read
    first could not write once another process had); PostgreSQL holds the row for update."""
    if not AgentBackendLimit.objects.filter(backend=backend).update(updated_at=timezone.now()):
        AgentBackendLimit.objects.get_or_create(backend=backend)
    return AgentBackendLimit.objects.select_for_update().get(backend=backend)


def _admit_row(
    row: AgentBackendLimit,
    lease: str,
    tokens: int,
    lease_seconds: float,
    limits: ProviderLimits,
    now: float,
) -> Admission:
    """The admission rules on the locked row; the caller saves it."""
    if row.paused_until is not None and row.paused_until.timestamp() > now:
        return Admission(False, row.paused_until.timestamp() - now, "paused")
    row.leases = {held: expiry for held, expiry in row.leases.items() if expiry > now}
    if lease not in row.leases and len(row.leases) >= limits.max_concurrency:
        return Admission(False, BUSY_WAIT_SECONDS, "busy")
    pacing = Pacing(_seconds(row.requests_tat), _seconds(row.tokens_tat)).admit(limits, tokens, now)
    if isinstance(pacing, Admission):
        return pacing
    row.requests_tat = _moment(pacing.requests) if pacing.requests is not None else None
    row.tokens_tat = _moment(pacing.tokens) if pacing.tokens is not None else None
    row.leases[lease] = now + lease_seconds
    return ADMITTED


# --- Redis ---------------------------------------------------------------------------------

# KEYS: leases (sorted set: lease id scored by its expiry), pacing (hash: the requests' and the
# tokens' theoretical arrival times), pause (string).
# ARGV: now, lease, lease expiry, max concurrency, requests a minute (0: unlimited), tokens a
# minute (0: unlimited), tokens of this call, busy wait, rounding slack.
# Returns {admitted (1/0), wait (a string: Lua numbers come back truncated to integers), reason}.
# The pacing rules are ``Pacing.admit``'s.
_ADMIT = """
local now = tonumber(ARGV[1])
local paused_until = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused_until > now then
  return {0, tostring(paused_until - now), 'paused'}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not held and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return {0, ARGV[8], 'busy'}
end
local rpm, tpm, tokens = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local slack = tonumber(ARGV[9])
local request_tat = math.max(tonumber(redis.call('HGET', KEYS[2], 'requests') or '0'), now)
local token_tat = math.max(tonumber(redis.call('HGET', KEYS[2], 'tokens') or '0'), now)
local wait, reason = 0, ''
if rpm > 0 then
  local interval = 60 / rpm
  local request_wait = request_tat - interval - now
  if request_wait > slack then
    wait, reason = request_wait, 'requests'
  end
  request_tat = request_tat + interval
end
if tpm > 0 then
  local token_wait = token_tat - now
  if token_wait > slack and token_wait > wait then
    wait, reason = token_wait, 'tokens'
  end
  token_tat = token_tat + tokens * 60 / tpm
end
if reason ~= '' then
  return {0, tostring(wait), reason}
end
if rpm > 0 or tpm > 0 then
  redis.call('HSET', KEYS[2], 'requests', string.format('%.6f', request_tat),
    'tokens', string.format('%.6f', token_tat))
  -- Once both times have passed the hash says nothing an empty one would not.
  redis.call('EXPIRE', KEYS[2], math.ceil(math.max(request_tat, token_tat) - now) + 60)
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) - now) + 60)
return {1, '0', ''}
"""

# KEYS: pause. ARGV: until (Unix seconds), milliseconds to keep the key. A later pause stands.
_PAUSE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 0
"""


class RedisLimiter:
    """Limits in three keys per backend, each operation one Lua script."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._admit = client.register_script(_ADMIT)
        self._pause = client.register_script(_PAUSE)

    @staticmethod
    def keys(backend: str) -> list[str]:
        # The braces keep a backend's keys in one hash slot, should the Redis be a cluster.
        return [f"agent-limits:{{{backend}}}:{name}" for name in ("leases", "pacing", "pause")]

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
        now = time.time() if now is None else now
        args: list[Any] = [
            repr(now),
            lease,
            repr(now + lease_seconds),
            limits.max_concurrency,
            limits.requests_per_minute or 0,
            limits.tokens_per_minute or 0,
            tokens,
            repr(BUSY_WAIT_SECONDS),
            repr(ROUNDING_SECONDS),
        ]
        admitted, wait, reason = self._admit(keys=self.keys(backend), args=args)
        if admitted:
            return ADMITTED
        return Admission(False, float(wait), reason.decode())

    def release(self, backend: str, lease: str) -> None:
        self.client.zrem(self.keys(backend)[0], lease)

    def pause(self, backend: str, seconds: float, *, now: float | None = None) -> None:
        until = (time.time() if now is None else now) + seconds
        keep_ms = max(1, int(seconds * 1000) + 1000)
        self._pause(keys=self.keys(backend)[2:], args=[repr(until), keep_ms])

    def clear(self, backend: str) -> None:
        self.client.delete(*self.keys(backend))


@functools.cache
def _redis_limiter(url: str) -> RedisLimiter:
    # One client per process and URL; redis-py opens new connections in a forked pool process.
    return RedisLimiter(redis.Redis.from_url(url))
