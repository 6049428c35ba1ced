"""Which worker, and which start of it, this process belongs to: what a phase's claim records.

A worker's node name (``phases1@host``, ``housekeeping@host``) runs once at a time: Celery warns
when two workers share one, and ``make run`` starts each name once. Each start of a worker's main
process draws an instance id of its own on ``worker_init`` (connected in ``cognition.celery``),
before the pool starts, so prefork children inherit it and threads share it. A claim recorded
under an earlier start of the node a worker runs as belongs to a process that is dead.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class WorkerStart:
    """One start of a worker: its node name and the instance id that start drew."""

    node: str
    instance: str = field(default_factory=lambda: uuid.uuid4().hex)


_current: WorkerStart | None = None


def remember_worker_start(sender: Any = None, **kwargs: Any) -> None:
    """Connected to ``worker_init`` (the worker's main process, before its pool exists)."""
    global _current
    _current = WorkerStart(node=sender.hostname)


def current_worker_start() -> WorkerStart | None:
    """The start of the worker this process belongs to; None outside a worker (the web
    process, commands, tasks run in-process)."""
    return _current
