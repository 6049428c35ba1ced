"""The shape of the planner health report and its JSON form.

Everything here is plain data: the queries live in the sibling modules and ``build`` assembles
them. ``to_dict()`` is the one JSON form shared by the diagnostics API, the ``planner_health``
command, ops alerting and the console, so its conventions are fixed here: lowercase strings,
durations in seconds, times in ISO 8601 UTC.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.db import models

from cognition.liveness import Liveness
from planners.health.telemetry_section import TelemetrySection


class Severity(models.TextChoices):
    """How loud an alert is; also the choices of ``opsalerts.Alert.severity``."""

    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class HealthStatus(enum.StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    CRITICAL = "critical"


@dataclasses.dataclass(frozen=True)
class HealthAlert:
    """One condition worth an operator's attention; ops alerting syncs these by ``dedup_key``."""

    id: str
    severity: Severity
    title: str
    description: str
    planner: str = ""
    plan_id: int | None = None
    backlog_id: str = ""
    template_id: str = ""
    synthetic: bool = False

    def dedup_key(self, environment: str) -> str:
        """Stable across evaluations: the alert id plus the environment. A synthetic alert
        carries its planner so that it never merges with (or resolves) the real one."""
        if self.synthetic:
            return f"{self.id}:synthetic:{self.planner or 'unknown'}@{environment}"
        return f"{self.id}@{environment}"

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)


@dataclasses.dataclass(frozen=True)
class StepState:
    id: str
    display_name: str
    template_id: str
    found: bool
    active: bool
    empty: bool
    version: int | None
    fallback_in_use: bool


@dataclasses.dataclass(frozen=True)
class PlannerState:
    slug: str
    name: str
    capabilities: tuple[str, ...]
    steps: tuple[StepState, ...]
    runs_in_window: int
    fallback_runs_in_window: int
    failed_runs_in_window: int
    last_run_at: datetime | None
    last_run_outcome: str = ""

    @property
    def fallback_in_use(self) -> bool:
        return self.fallback_runs_in_window > 0


@dataclasses.dataclass(frozen=True)
class BacklogItemRef:
    """A backlog item named the way an operator finds it: plan, backlog id, phase."""

    id: int
    plan_id: int
    plan_name: str
    backlog_id: str
    phase: str
    status: str
    age_seconds: float | None = None
    in_progress_at: datetime | None = None
    missing_inputs: tuple[str, ...] = ()
    synthetic: bool = False


@dataclasses.dataclass(frozen=True)
class PlanSummary:
    id: int
    name: str
    branch: str
    status: str
    items_total: int
    pipeline: str
    counts: Mapping[str, int]
    last_activity_at: datetime | None


@dataclasses.dataclass(frozen=True)
class FlappingItem:
    item_id: int
    plan_id: int
    backlog_id: str
    returns_to_pending: int
    last_at: datetime | None


@dataclasses.dataclass(frozen=True)
class PipelineFinding:
    """A pipeline's own warning (``Pipeline.health_findings``), e.g. fiction's blocked lore."""

    pipeline: str
    alert_id: str
    severity: str
    title: str
    description: str
    plan_id: int | None


@dataclasses.dataclass(frozen=True)
class TransitionEntry:
    at: datetime
    plan_id: int
    backlog_id: str
    from_status: str
    to_status: str
    reason: str
    actor: str
    item_id: int | None = None
    plan_name: str = ""


@dataclasses.dataclass(frozen=True)
class ActionLogLine:
    at: datetime
    action: str
    actor: str
    target: str
    target_url: str
    environment: str


@dataclasses.dataclass(frozen=True)
class DriftEvent:
    at: datetime
    plan_id: int
    backlog_id: str
    planner: str
    actor: str
    requested: Mapping[str, Any]
    recorded: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class BacklogSection:
    counts: Mapping[str, int]
    total: int
    synthetic_total: int
    plans_total: int
    plans: tuple[PlanSummary, ...]
    stale_total: int
    stale: tuple[BacklogItemRef, ...]
    stale_synthetic: tuple[BacklogItemRef, ...]
    orphaned_total: int
    orphaned: tuple[BacklogItemRef, ...]
    flapping: tuple[FlappingItem, ...]
    findings: tuple[PipelineFinding, ...]
    contract_drift_total: int
    contract_drift: tuple[DriftEvent, ...]
    recent_transitions: tuple[TransitionEntry, ...]
    action_log: tuple[ActionLogLine, ...]


@dataclasses.dataclass(frozen=True)
class PlannerHealthReport:
    generated_at: datetime
    status: HealthStatus
    environment: str
    plan_id: int | None
    thresholds: Mapping[str, int]
    planners: tuple[PlannerState, ...]
    backlog: BacklogSection
    telemetry: TelemetrySection
    liveness: Liveness
    alerts: tuple[HealthAlert, ...]
    warnings: tuple[str, ...]

    def alert(self, alert_id: str) -> HealthAlert | None:
        """The first alert with this id (synthetic or not), for callers and tests."""
        return next((a for a in self.alerts if a.id == alert_id), None)

    def to_dict(self) -> dict[str, Any]:
        data = to_jsonable(self)
        data["liveness"] = self.liveness.to_dict()
        # Derived values that operators and tooling read but are not stored fields.
        data["telemetry"]["tokens"]["total"] = self.telemetry.tokens.total
        for planner, state in zip(data["planners"], self.planners, strict=True):
            planner["fallback_in_use"] = state.fallback_in_use
        # The key ops alerting stores the alert under (and the ack API takes) here.
        for alert, source in zip(data["alerts"], self.alerts, strict=True):
            alert["dedup_key"] = source.dedup_key(self.environment)
        data["alert_counts"] = {
            severity.value: sum(1 for a in self.alerts if a.severity == severity)
            for severity in Severity
        }
        return data


def overall_status(alerts: tuple[HealthAlert, ...] | list[HealthAlert]) -> HealthStatus:
    """design.md §4: critical on a missing template or any error alert, degraded on any
    warning, otherwise healthy. Info alerts never change the status."""
    if any(a.severity == Severity.ERROR or a.id.startswith("template-missing:") for a in alerts):
        return HealthStatus.CRITICAL
    if any(a.severity == Severity.WARNING for a in alerts):
        return HealthStatus.DEGRADED
    return HealthStatus.HEALTHY


def iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_jsonable(value: Any) -> Any:
    """Dataclasses to dicts, enums to their lowercase values, datetimes to ISO 8601 UTC."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value
