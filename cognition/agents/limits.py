"""Provider limits per agent backend, kept where every worker process sees them.

An admission asks for one call of a backend. It is refused while the provider's pause runs (a
429's ``Retry-After``), while ``AGENT_MAX_CONCURRENCY`` calls of the backend are in flight, or
when this minute's ``AGENT_REQUESTS_PER_MINUTE`` or ``AGENT_TOKENS_PER_MINUTE`` are spent; a
refusal says how long to wait. The limiter only admits or refuses: waiting is the caller's
business (the phase task re-queues itself with a countdown and frees its worker).

The state lives in Redis when the broker is Redis (each operation one Lua script, so atomic),
otherwise in the database (one ``AgentBackendLimit`` row per backend, locked by each
operation). A call in flight holds a lease that expires by itself, so the slot of a worker that
died comes back after ``lease_seconds``; an admission under a lease id already held (the same
task redelivered after its worker died) takes that lease over instead of waiting for it.
Requests and tokens are counted in a fixed one-minute window that opens with its first call.
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

WINDOW_SECONDS = 60.0
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
    ``paused``, ``busy`` (every slot taken), ``requests`` or ``tokens`` (this minute's spent)."""

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
        counting ``tokens`` against this minute's budget, or say how long to wait."""
        ...

    def release(self, backend: str, lease: str) -> None:
        """The call under ``lease`` ended: its slot is free."""
        ...

    def pause(self, backend: str, seconds: float, *, now: float | None = None) -> None:
        """The provider asked callers to wait ``seconds``: refuse every call until then (a
        later pause already recorded stands)."""
        ...

    def clear(self, backend: str) -> None:
        """Forget the backend's leases, window and pause (an operator's reset; tests)."""
        ...


def provider_limiter() -> ProviderLimiter:
    """The limiter every worker shares: Redis when the broker is Redis, else the database."""
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        return _redis_limiter(url)
    return DatabaseLimiter()


def rate_refusal(
    limits: ProviderLimits, requests: int, spent: int, tokens: int, wait: float
) -> Admission | None:
    """The refusal when this window's requests or tokens are spent. A call bigger than the
    whole token budget still goes alone into an empty window, or it would never go."""
    if limits.requests_per_minute is not None and requests >= limits.requests_per_minute:
        return Admission(False, wait, "requests")
    if (
        limits.tokens_per_minute is not None
        and requests > 0
        and spent + tokens > limits.tokens_per_minute
    ):
        return Admission(False, wait, "tokens")
    return None


# --- the database --------------------------------------------------------------------------


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


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
    start = row.window_start.timestamp() if row.window_start is not None else None
    if start is None or now >= start + WINDOW_SECONDS:
        start, row.window_requests, row.window_tokens = now, 0, 0
    refusal = rate_refusal(
        limits, row.window_requests, row.window_tokens, tokens, start + WINDOW_SECONDS - now
    )
    if refusal is not None:
        return refusal
    row.window_start = _moment(start)
    row.window_requests += 1
    row.window_tokens += tokens
    row.leases[lease] = now + lease_seconds
    return ADMITTED


# --- Redis ---------------------------------------------------------------------------------

# KEYS: leases (sorted set: lease id scored by its expiry), window (hash), pause (string).
# ARGV: now, lease, lease expiry, max concurrency, requests a minute (0: unlimited), tokens a
# minute (0: unlimited), tokens of this call, window seconds, busy wait.
# Returns {admitted (1/0), wait (a string: Lua numbers come back truncated to integers), reason}.
_ADMIT = """
local now = tonumber(ARGV[1])
local paused_until = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused_until > now then
  return {0, tostring(paused_until - now), 'paused'}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not held and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return {0, ARGV[9], 'busy'}
end
local window = tonumber(ARGV[8])
local start_text = redis.call('HGET', KEYS[2], 'start')
local start = tonumber(start_text or '')
local requests, spent = 0, 0
if start and now < start + window then
  requests = tonumber(redis.call('HGET', KEYS[2], 'requests'))
  spent = tonumber(redis.call('HGET', KEYS[2], 'tokens'))
else
  start, start_text = now, ARGV[1]
end
local rpm, tpm, tokens = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
if rpm > 0 and requests >= rpm then
  return {0, tostring(start + window - now), 'requests'}
end
if tpm > 0 and requests > 0 and spent + tokens > tpm then
  return {0, tostring(start + window - now), 'tokens'}
end
redis.call('HSET', KEYS[2], 'start', start_text, 'requests', requests + 1, 'tokens', spent + tokens)
redis.call('EXPIRE', KEYS[2], math.ceil(window) * 2)
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
        return [f"agent-limits:{{{backend}}}:{name}" for name in ("leases", "window", "pause")]

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
            repr(WINDOW_SECONDS),
            repr(BUSY_WAIT_SECONDS),
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
