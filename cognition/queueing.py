"""Queueing a Celery task by its registered name.

A lower layer that must start work defined higher up (the scheduler queues the phase task, an
evaluation queues the outbox drain) names the task instead of importing its module, so layers
run one way. Each app's ``ready()`` imports its ``tasks`` module, which registers the names in
every process (web, worker, beat, commands), not only where Celery autodiscovers them.
"""

from __future__ import annotations

from typing import Any

from celery import current_app


def queue_task(name: str, *args: Any, **kwargs: Any) -> None:
    """Queue the task registered as ``name`` (runs at once when tasks are eager)."""
    current_app.tasks[name].delay(*args, **kwargs)
