"""The pipeline benchmark's floor: a Celery task that inserts one row and does nothing else.

Loaded only by the benchmark's worker (``celery worker -I cognition.benchmarks.floor_tasks``).
"""

from __future__ import annotations

from celery import shared_task

from planners.models import TelemetryEvent


@shared_task(name="bench.floor_insert", acks_late=True)
def floor_insert(pipeline: int, phase: int) -> None:
    TelemetryEvent.objects.create(
        name="bench.floor",
        planner_slug=f"phase-{phase}",
        correlation_id=f"bench-floor-{pipeline}",
        environment="bench",
    )
