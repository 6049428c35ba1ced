"""Liveness: the housekeeping worker, the phases worker and beat, as they record themselves."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from cognition.models import ProcessHeartbeat


def record_process(
    kind: str = ProcessHeartbeat.Kind.WORKER,
    *,
    host: str = "housekeeping@ops-1",
    pid: int = 4100,
    queues: tuple[str, ...] = ("celery",),
    seen_ago: timedelta = timedelta(0),
) -> ProcessHeartbeat:
    seen = timezone.now() - seen_ago
    return ProcessHeartbeat.objects.create(
        kind=kind,
        host=host,
        pid=pid,
        queues=list(queues),
        started_at=seen - timedelta(hours=1),
        last_seen=seen,
    )


def record_workers_and_beat(*, seen_ago: timedelta = timedelta(0)) -> None:
    """Both workers ``make run`` starts and its beat, last seen ``seen_ago``."""
    record_process(seen_ago=seen_ago)
    record_process(host="phases@ops-1", pid=4200, queues=("phases",), seen_ago=seen_ago)
    record_process(ProcessHeartbeat.Kind.BEAT, host="ops-1", pid=4101, queues=(), seen_ago=seen_ago)
