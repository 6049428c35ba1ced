"""Provider limits in Redis, when the broker is Redis: three keys per backend (the calls in
flight, the pacing, the pause), each operation one Lua script, so atomic."""

from __future__ import annotations

import functools
import time
from typing import Any

import redis

from cognition.agents.limits.pacing import (
    BOOKING_HORIZON_SECONDS,
    BUSY_WAIT_SECONDS,
    ROUNDING_SECONDS,
    SEND_LEAD_SECONDS,
    Admission,
    ProviderLimits,
)

# KEYS: leases (sorted set: lease id scored by its expiry), pacing (hash: the requests' and the
# tokens' theoretical arrival times), pause (string).
# ARGV: now, lease, lease expiry, max concurrency, seconds between requests (0: unlimited),
# tokens a minute (0: unlimited), tokens of this call, busy wait, rounding slack, booking
# horizon, send lead.
# Returns {admitted (1/0), wait, reason, turn} (numbers as strings: Lua numbers come back
# truncated to integers). The pacing rules are ``Pacing.admit``'s.
_ADMIT = """
local now = tonumber(ARGV[1])
local paused_until = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused_until > now then
  return {0, tostring(paused_until - now), 'paused', '0'}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not held and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return {0, ARGV[8], 'busy', '0'}
end
local interval, tpm, tokens = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local request_tat = tonumber(redis.call('HGET', KEYS[2], 'requests') or '0')
local token_tat = tonumber(redis.call('HGET', KEYS[2], 'tokens') or '0')
if interval == 0 and tpm == 0 then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) - now) + 60)
  return {1, '0', '', '0'}
end
local request_turn, token_turn = now, now
if interval > 0 then request_turn = math.max(request_tat, now) end
if tpm > 0 then token_turn = math.max(token_tat, now) end
local turn = math.max(request_turn, token_turn, now + tonumber(ARGV[11]))
local wait = turn - tonumber(ARGV[10]) - now
if wait > tonumber(ARGV[9]) then
  local reason = 'requests'
  if token_turn > request_turn then reason = 'tokens' end
  return {0, tostring(wait), reason, '0'}
end
if interval > 0 then request_tat = turn + interval end
if tpm > 0 then token_tat = turn + tokens * 60 / tpm end
redis.call('HSET', KEYS[2], 'requests', string.format('%.6f', request_tat),
  'tokens', string.format('%.6f', token_tat))
-- Once both times have passed the hash says nothing an empty one would not.
redis.call('EXPIRE', KEYS[2], math.ceil(math.max(request_tat, token_tat) - now) + 60)
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) - now) + 60)
return {1, '0', '', string.format('%.6f', turn)}
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
            repr(limits.request_interval or 0),
            limits.tokens_per_minute or 0,
            tokens,
            repr(BUSY_WAIT_SECONDS),
            repr(ROUNDING_SECONDS),
            repr(BOOKING_HORIZON_SECONDS),
            repr(SEND_LEAD_SECONDS),
        ]
        admitted, wait, reason, turn = self._admit(keys=self.keys(backend), args=args)
        if admitted:
            return Admission(True, turn=float(turn))
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
def redis_limiter(url: str) -> RedisLimiter:
    # One client per process and URL; redis-py opens new connections in a forked pool process.
    return RedisLimiter(redis.Redis.from_url(url))
