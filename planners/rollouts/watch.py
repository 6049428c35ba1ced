"""The watch a sign-off starts (runbook section 4): the planner's live runs and alerts in the
signed-off environment, watched for ``ROLLOUT_WATCH_SECONDS``.

The result comes from live data: the planner's real runs and failures among them, and the
alerts about it that fired (stale and flapping items raise alerts too). Fewer runs than
``ROLLOUT_WATCH_MIN_RUNS`` is ``inconclusive``, never a pass. Beat records each ended watch's
result (``record_ended_watches``); ``watch_state`` computes it on read as well, so the gate
never waits on beat. Another deployment's watch cannot be observed from here: its result
arrives with that deployment's signed evidence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from opsalerts.models import Alert
from planners.models import PlannerExecution, PlannerOutcome
from planners.models.rollout import RolloutChecklist, RolloutWatch, WatchResult
from planners.rollouts.config import rollout_settings

logger = logging.getLogger(__name__)


class WatchState(StrEnum):
    NOT_STARTED = "not-started"
    WATCHING = "watching"
    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Observation:
    """What the watch has seen so far."""

    runs: int = 0
    failures: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def verdict(self, min_runs: int) -> WatchResult:
        if self.failures or self.alerts:
            return WatchResult.FAILED
        if self.runs < min_runs:
            return WatchResult.INCONCLUSIVE
        return WatchResult.PASSED


@dataclass(frozen=True)
class WatchStatus:
    state: WatchState
    ends_at: datetime | None = None
    started_at: datetime | None = None
    min_runs: int = 0
    seen: Observation = field(default_factory=Observation)
    recorded: bool = False
    imported_from: str = ""
    now: datetime | None = None

    @property
    def seconds_left(self) -> int:
        if self.ends_at is None or self.now is None:
            return 0
        return max(int((self.ends_at - self.now).total_seconds()), 0)

    @property
    def explanation(self) -> str:
        """One plain sentence: where the watch stands and why."""
        seen = self.seen
        counts = (
            f"{seen.runs} run{'s' if seen.runs != 1 else ''}, {seen.failures} failed, "
            f"{len(seen.alerts)} alert{'s' if len(seen.alerts) != 1 else ''}"
        )
        ends = f"{self.ends_at:%Y-%m-%d %H:%M:%S} UTC" if self.ends_at else "?"
        if self.state == WatchState.NOT_STARTED:
            return "not signed off yet, so no watch has started"
        if self.state == WatchState.WATCHING:
            if self.imported_from and self.now and self.ends_at and self.ends_at <= self.now:
                return (
                    f"the watch ended at {ends} on the {self.imported_from} deployment; import "
                    "its evidence again to bring the result here"
                )
            return f"watching until {ends} ({self.seconds_left} s left); so far {counts}"
        if self.state == WatchState.PASSED:
            return f"passed: {counts} (at least {self.min_runs} runs needed)"
        if self.state == WatchState.INCONCLUSIVE:
            return f"inconclusive: {counts}; at least {self.min_runs} runs are needed"
        names = ", ".join(str(a.get("alert_id")) for a in seen.alerts)
        return f"failed: {counts}" + (f" ({names})" if names else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": str(self.state),
            "started_at": _iso(self.started_at),
            "ends_at": _iso(self.ends_at),
            "min_runs": self.min_runs,
            "runs": self.seen.runs,
            "failures": self.seen.failures,
            "alerts": self.seen.alerts,
            "recorded": self.recorded,
            "detail": self.explanation,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def start_watch(checklist: RolloutChecklist, *, started_at: datetime) -> RolloutWatch:
    config = rollout_settings.get()
    return RolloutWatch.objects.create(
        checklist=checklist,
        started_at=started_at,
        ends_at=started_at + timedelta(seconds=config.watch_seconds),
        min_runs=config.watch_min_runs,
    )


def observe(watch: RolloutWatch, *, until: datetime) -> Observation:
    """The planner's real runs and alerts in this deployment between the sign-off and ``until``."""
    checklist = watch.checklist
    environment = checklist.environment.name
    runs = PlannerExecution.objects.filter(
        planner_slug=checklist.planner_slug,
        environment=environment,
        synthetic=False,
        finished_at__gte=watch.started_at,
        finished_at__lte=until,
    )
    counts = runs.aggregate(
        runs=Count("id"), failures=Count("id", filter=~Q(outcome=PlannerOutcome.SUCCESS))
    )
    alerts = Alert.objects.filter(
        planner_slug=checklist.planner_slug,
        environment=environment,
        synthetic=False,
        first_seen__lte=until,
        last_seen__gte=watch.started_at,
    ).order_by("first_seen")
    return Observation(
        runs=counts["runs"],
        failures=counts["failures"],
        alerts=[
            {"alert_id": a.alert_id, "severity": a.severity, "first_seen": _iso(a.first_seen)}
            for a in alerts
        ],
    )


def watch_state(checklist: RolloutChecklist, *, now: datetime | None = None) -> WatchStatus:
    """Where the checklist's watch stands now, from the recorded result or live data."""
    now = now or timezone.now()
    watch: RolloutWatch | None = getattr(checklist, "watch", None)
    if watch is None:
        return WatchStatus(WatchState.NOT_STARTED, now=now)
    common: dict[str, Any] = {
        "ends_at": watch.ends_at,
        "started_at": watch.started_at,
        "min_runs": watch.min_runs,
        "imported_from": watch.imported_from,
        "now": now,
    }
    if watch.result:
        seen = Observation(watch.runs, watch.failures, list(watch.alerts))
        return WatchStatus(WatchState(watch.result), seen=seen, recorded=True, **common)
    if watch.imported_from or checklist.environment.name != settings.DEPLOY_ENVIRONMENT:
        return WatchStatus(WatchState.WATCHING, **common)
    seen = observe(watch, until=min(now, watch.ends_at))
    if now < watch.ends_at:
        return WatchStatus(WatchState.WATCHING, seen=seen, **common)
    return WatchStatus(WatchState(seen.verdict(watch.min_runs)), seen=seen, **common)


def record_ended_watches(*, now: datetime | None = None) -> int:
    """Record the result of every ended watch of this deployment; safe to run twice (each row
    is claimed with a conditional update). Returns how many were recorded."""
    now = now or timezone.now()
    due = RolloutWatch.objects.select_related("checklist__environment").filter(
        result="",
        imported_from="",
        ends_at__lte=now,
        checklist__environment__name=settings.DEPLOY_ENVIRONMENT,
    )
    recorded = 0
    for watch in due:
        seen = observe(watch, until=watch.ends_at)
        verdict = seen.verdict(watch.min_runs)
        recorded += RolloutWatch.objects.filter(pk=watch.pk, result="").update(
            result=verdict,
            runs=seen.runs,
            failures=seen.failures,
            alerts=seen.alerts,
            recorded_at=now,
        )
        logger.info("rollout watch of %s ended: %s", watch.checklist, verdict)
    return recorded
