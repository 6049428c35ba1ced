"""Planner telemetry: one structured log line and one ``TelemetryEvent`` row per event.

The log line (logger ``planners.telemetry``, the whole event as JSON in the message) feeds log
pipelines; the row feeds the console. Both carry the correlation id shared with the run's
``PlannerExecution`` so an operator can go from a log line to the run and back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.utils import timezone

from planners.models import PlannerExecution, TelemetryEvent

logger = logging.getLogger("planners.telemetry")

STARTED = "planner.started"
COMPLETED = "planner.completed"
FAILED = "planner.failed"
THROTTLED = "planner.throttled"
REJECTED = "planner.rejected"
EVENT_NAMES = (STARTED, COMPLETED, FAILED, THROTTLED, REJECTED)

_LEVELS = {
    STARTED: logging.INFO,
    COMPLETED: logging.INFO,
    FAILED: logging.WARNING,
    THROTTLED: logging.WARNING,
    REJECTED: logging.WARNING,
}


def emit_event(
    name: str,
    *,
    planner_slug: str,
    correlation_id: str,
    environment: str,
    payload: Mapping[str, Any] | None = None,
    execution: PlannerExecution | None = None,
) -> TelemetryEvent:
    """Log the event as one JSON line and persist it; returns the stored row."""
    if name not in EVENT_NAMES:
        raise ValueError(f"Unknown telemetry event {name!r}; known: {', '.join(EVENT_NAMES)}.")
    body = dict(payload or {})
    line = {
        "event": name,
        "planner": planner_slug,
        "correlation_id": correlation_id,
        "environment": environment,
        "at": timezone.now().isoformat(),
        **body,
    }
    logger.log(_LEVELS[name], "%s", json.dumps(line, default=str, sort_keys=True))
    return TelemetryEvent.objects.create(
        name=name,
        planner_slug=planner_slug,
        correlation_id=correlation_id,
        environment=environment,
        payload=json.loads(json.dumps(body, default=str)),
        execution=execution,
    )


def attach_events(events: Sequence[TelemetryEvent], execution: PlannerExecution) -> None:
    """Link events emitted before the execution row existed (``planner.started``) to it."""
    ids = [e.pk for e in events if e.pk is not None and e.execution_id is None]
    if ids:
        TelemetryEvent.objects.filter(pk__in=ids).update(execution=execution)
        for event in events:
            if event.pk in ids:
                event.execution = execution
