"""Celery tasks of the rollouts layer (imported by ``PlannersConfig.ready``, which registers
their names in every process: Celery autodiscovers only ``planners.tasks``)."""

from __future__ import annotations

from celery import shared_task

from planners.rollouts.retention import prune_history as prune
from planners.rollouts.watch import record_ended_watches as record_watches


@shared_task(name="planners.rollouts.tasks.prune_history", ignore_result=True)
def prune_history() -> dict[str, int]:
    """Beat, daily: delete history older than its RETAIN_*_DAYS setting, keeping what is still
    needed (``planners.rollouts.retention``); returns rows deleted per kind."""
    return {result.kind: result.deleted for result in prune()}


@shared_task(name="planners.rollouts.tasks.record_ended_watches", ignore_result=True)
def record_ended_watches() -> int:
    """Beat, every minute: record the result of each rollout watch that has ended."""
    return record_watches()
