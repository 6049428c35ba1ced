"""Are the Celery workers and beat alive? The one read of their heartbeat rows.

Workers and beat write ``ProcessHeartbeat`` rows (``cognition.liveness_recording``); this module
reads them for everyone who asks: ``GET /healthz/workers``, the health report's
``ops:workers-down`` and ``ops:beat-silent`` alerts, the console banner and ``run_pipeline
--wait``. A process is alive when it was seen within ``ALIVE_AFTER_INTERVALS`` of its intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from cognition.models import ProcessHeartbeat

#: A process missing this many of its intervals in a row is taken for dead.
ALIVE_AFTER_INTERVALS = 3
#: Rows of processes not seen for this long are dropped when a process starts.
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class SeenProcess:
    kind: str
    host: str
    pid: int
    queues: tuple[str, ...]
    started_at: datetime
    last_seen: datetime
    alive: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "pid": self.pid,
            "queues": list(self.queues),
            "started_at": self.started_at.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "alive": self.alive,
        }


@dataclass(frozen=True)
class Liveness:
    """What the heartbeat rows say at ``checked_at``: every worker remembered (alive or not,
    most recently seen first) and the most recently seen beat."""

    checked_at: datetime
    interval_seconds: int
    workers: tuple[SeenProcess, ...]
    beat: SeenProcess | None
    #: The last alert evaluation's record (its ``last_seen`` is when it ran), if any ran.
    evaluation: SeenProcess | None = None

    @property
    def alerts_evaluated_at(self) -> datetime | None:
        return self.evaluation.last_seen if self.evaluation else None

    @property
    def alive_window_seconds(self) -> int:
        return ALIVE_AFTER_INTERVALS * self.interval_seconds

    @property
    def alive_workers(self) -> tuple[SeenProcess, ...]:
        return tuple(worker for worker in self.workers if worker.alive)

    @property
    def workers_alive(self) -> bool:
        return bool(self.alive_workers)

    @property
    def beat_alive(self) -> bool:
        return self.beat is not None and self.beat.alive

    @property
    def ok(self) -> bool:
        return self.workers_alive and self.beat_alive

    @property
    def worker_last_seen(self) -> datetime | None:
        return max((w.last_seen for w in self.workers), default=None)

    @property
    def queues_served(self) -> frozenset[str]:
        return frozenset(queue for worker in self.alive_workers for queue in worker.queues)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at.isoformat(),
            "interval_seconds": self.interval_seconds,
            "alive_window_seconds": self.alive_window_seconds,
            "workers_alive": len(self.alive_workers),
            "beat_alive": self.beat_alive,
            "workers": [worker.to_dict() for worker in self.workers],
            "beat": self.beat.to_dict() if self.beat else None,
            "alerts_evaluated_at": (
                self.alerts_evaluated_at.isoformat() if self.alerts_evaluated_at else None
            ),
        }


def current_liveness(now: datetime | None = None) -> Liveness:
    """Read every heartbeat row (one query; the table holds a row per process of the last day)."""
    now = now or timezone.now()
    interval = settings.LIVENESS_INTERVAL_SECONDS
    cutoff = now - timedelta(seconds=ALIVE_AFTER_INTERVALS * interval)
    workers: list[SeenProcess] = []
    beat: SeenProcess | None = None
    evaluation: SeenProcess | None = None
    for row in ProcessHeartbeat.objects.order_by("-last_seen", "-pk"):
        seen = SeenProcess(
            kind=row.kind,
            host=row.host,
            pid=row.pid,
            queues=tuple(row.queues or ()),
            started_at=row.started_at,
            last_seen=row.last_seen,
            alive=row.last_seen >= cutoff,
        )
        if row.kind == ProcessHeartbeat.Kind.BEAT:
            beat = beat or seen
        elif row.kind == ProcessHeartbeat.Kind.EVALUATION:
            evaluation = evaluation or seen
        else:
            workers.append(seen)
    return Liveness(
        checked_at=now,
        interval_seconds=interval,
        workers=tuple(workers),
        beat=beat,
        evaluation=evaluation,
    )
