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


def new_event(
    name: str,
    *,
    planner_slug: str,
    correlation_id: str,
    environment: str,
    payload: Mapping[str, Any] | None = None,
) -> TelemetryEvent:
    """Log the event as one JSON line now and return its row, not yet stored.

    A planner run keeps its events and stores them with its execution row in one INSERT
    (``save_events``), so a run costs one commit for all its records.
    """
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
    text = json.dumps(line, default=str, sort_keys=True)
    logger.log(_LEVELS[name], "%s", text)
    stored = json.loads(text)
    return TelemetryEvent(
        name=name,
        planner_slug=planner_slug,
        correlation_id=correlation_id,
        environment=environment,
        # The payload as JSON stores it: what the log line says, less its envelope.
        payload={key: stored[key] for key in body},
    )


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
    event = new_event(
        name,
        planner_slug=planner_slug,
        correlation_id=correlation_id,
        environment=environment,
        payload=payload,
    )
    event.execution = execution
    event.save()
    return event


def save_events(events: Sequence[TelemetryEvent], execution: PlannerExecution) -> None:
    """Store a run's events, linked to its execution row, in one INSERT."""
    for event in events:
        event.execution = execution
    TelemetryEvent.objects.bulk_create(events)
