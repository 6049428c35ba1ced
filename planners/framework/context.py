"""What a single planner run knows about the world it runs in."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings

from cognition.agents.base import AgentService

if TYPE_CHECKING:
    from planners.models import BacklogItem, Plan


def _never_cancelled() -> bool:
    return False


def new_correlation_id() -> str:
    """A fresh id that ties a run's execution row, telemetry events and log lines together."""
    return uuid.uuid4().hex


@dataclass
class PlannerContext:
    """The per-run inputs that are not planner parameters.

    ``iteration`` and ``queued_jobs`` feed the quota check: ``iteration`` is the pass number this
    run produces (the iterative planner's N), ``queued_jobs`` the number of jobs for this planner
    already queued or running besides this one (None when the caller did not count them
    because no ``max_queued_jobs`` quota applies). ``is_cancelled`` is polled before every agent
    call so an operator's cancel stops a run before it spends more tokens.
    """

    agent: AgentService
    environment: str
    correlation_id: str
    plan: Plan | None = None
    backlog_item: BacklogItem | None = None
    phase: str = ""
    actor: str = ""
    iteration: int = 0
    queued_jobs: int | None = 0
    is_cancelled: Callable[[], bool] = _never_cancelled
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        agent: AgentService,
        *,
        correlation_id: str | None = None,
        environment: str | None = None,
        **kwargs: Any,
    ) -> PlannerContext:
        """A context with ``settings.DEPLOY_ENVIRONMENT`` and a new correlation id by default."""
        return cls(
            agent=agent,
            environment=environment or settings.DEPLOY_ENVIRONMENT,
            correlation_id=correlation_id or new_correlation_id(),
            **kwargs,
        )

    @property
    def synthetic(self) -> bool:
        """Runs for synthetic backlog items are kept out of real counts downstream."""
        if self.backlog_item is not None and getattr(self.backlog_item, "synthetic", False):
            return True
        return bool(self.metadata.get("synthetic", False))
