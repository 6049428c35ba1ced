"""Provider limits per agent backend, kept where every worker process sees them.

An admission asks for one call of a backend. It is refused while the provider's pause runs (a
429's ``Retry-After``), while ``AGENT_MAX_CONCURRENCY`` calls of the backend are in flight, or
while its turn under ``AGENT_REQUESTS_PER_MINUTE`` or ``AGENT_TOKENS_PER_MINUTE`` is further
away than the booking horizon (``pacing``); a refusal says how long to wait, an admission when
the call's turn comes. The limiter only admits or refuses: waiting longer than the horizon is
the caller's business (the phase task re-queues itself with a countdown and frees its worker).

The state lives in Redis when the broker is Redis (``redis_store``), otherwise in the database
(``database``). A call in flight holds a lease that expires by itself, so the slot of a worker
that died comes back after ``lease_seconds``; an admission under a lease id already held (the
same task redelivered after its worker died) takes that lease over instead of waiting for it.
"""

from __future__ import annotations

from django.conf import settings

from cognition.agents.limits.database import DatabaseLimiter
from cognition.agents.limits.pacing import (
    ADMITTED,
    BOOKING_HORIZON_SECONDS,
    BUSY_WAIT_SECONDS,
    MINUTE,
    REQUEST_SPACING_MARGIN,
    ROUNDING_SECONDS,
    SEND_LEAD_SECONDS,
    Admission,
    Pacing,
    ProviderLimiter,
    ProviderLimits,
)
from cognition.agents.limits.redis_store import RedisLimiter, redis_limiter
from cognition.agents.limits.turn import AgentOnTurn

__all__ = [
    "ADMITTED",
    "BOOKING_HORIZON_SECONDS",
    "BUSY_WAIT_SECONDS",
    "MINUTE",
    "REQUEST_SPACING_MARGIN",
    "ROUNDING_SECONDS",
    "SEND_LEAD_SECONDS",
    "Admission",
    "AgentOnTurn",
    "DatabaseLimiter",
    "Pacing",
    "ProviderLimiter",
    "ProviderLimits",
    "RedisLimiter",
    "provider_limiter",
]


def provider_limiter() -> ProviderLimiter:
    """The limiter every worker shares: Redis when the broker is Redis, else the database."""
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        return redis_limiter(url)
    return DatabaseLimiter()
