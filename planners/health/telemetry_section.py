"""The telemetry section of the health report, as plain data: what planner runs did (counts,
tokens, failures, latency, critique statuses and quota breaches). ``planners.health.telemetry``
and ``planners.health.execution_groups`` read it from the database; ``report`` holds it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime


@dataclasses.dataclass(frozen=True)
class ExecutionRef:
    id: int
    planner: str
    outcome: str
    at: datetime
    plan_id: int | None
    backlog_id: str
    duration_seconds: float
    error: str = ""
    transcript_snippet: str = ""
    plan_name: str = ""


@dataclasses.dataclass(frozen=True)
class LatencySummary:
    samples: int
    p50_seconds: float | None
    p95_seconds: float | None


@dataclasses.dataclass(frozen=True)
class TokenTotals:
    prompt: int
    completion: int
    critique: int

    @property
    def total(self) -> int:
        return self.prompt + self.completion + self.critique


@dataclasses.dataclass(frozen=True)
class QuotaBreachCount:
    """How many runs of a planner one quota stopped in the window (with which outcome); one
    refusal itself is ``planners.framework.admission.QuotaBreach``."""

    planner: str
    limit: str
    outcome: str
    count: int
    last_at: datetime | None


@dataclasses.dataclass(frozen=True)
class CritiqueCount:
    planner: str
    status: str
    count: int


@dataclasses.dataclass(frozen=True)
class TelemetrySection:
    window_seconds: int
    executions_total: int
    executions_by_outcome: Mapping[str, int]
    executions_in_window: int
    executions_in_window_by_outcome: Mapping[str, int]
    last_execution: ExecutionRef | None
    recent_failures_total: int
    recent_failures: tuple[ExecutionRef, ...]
    latency: LatencySummary
    tokens: TokenTotals
    critique_status_counts: Mapping[str, int]
    critique: tuple[CritiqueCount, ...]
    quota_breaches: tuple[QuotaBreachCount, ...]
