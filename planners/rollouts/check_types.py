"""What a system check takes and returns (``planners.rollouts.verification`` runs them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from planners.framework.metadata import PlannerMetadata
from planners.health import PlannerHealthReport, build_health_report


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    summary: str
    snapshot: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckContext:
    """What every check needs; the health report is built at most once per verification."""

    planner: PlannerMetadata
    environment: str
    now: datetime

    @cached_property
    def health_report(self) -> PlannerHealthReport:
        return build_health_report(now=self.now)


Check = Callable[[CheckContext], CheckResult]
