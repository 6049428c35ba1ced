"""Workers and beat write their heartbeat rows (read by ``cognition.liveness``).

A worker's main process records itself when it is ready and then every
``LIVENESS_INTERVAL_SECONDS`` from a daemon thread, and deletes its row on a clean shutdown.
Beat runs ``RecordingScheduler``, which records on its ticks, at most once an interval (beat
wakes at least that often: ``CELERY_BEAT_MAX_LOOP_INTERVAL``). Connected by ``CognitionConfig``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from celery import beat, signals
from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone

from cognition.liveness import FORGET_AFTER
from cognition.models import ProcessHeartbeat

logger = logging.getLogger(__name__)


def record_heartbeat(
    kind: str, host: str, pid: int, queues: list[str], started_at: Any
) -> ProcessHeartbeat:
    """Create or refresh this process's row."""
    row, _ = ProcessHeartbeat.objects.update_or_create(
        kind=kind,
        host=host,
        pid=pid,
        defaults={"queues": queues, "last_seen": timezone.now()},
        create_defaults={"queues": queues, "last_seen": timezone.now(), "started_at": started_at},
    )
    return row


def record_alert_evaluation() -> None:
    """An alert evaluation just ran in this process: the console says when alerts were last
    evaluated from this row (one per evaluating process, so no two workers contend for it)."""
    now = timezone.now()
    record_heartbeat(ProcessHeartbeat.Kind.EVALUATION, socket.gethostname(), os.getpid(), [], now)


def forget_old_processes() -> int:
    deleted, _ = ProcessHeartbeat.objects.filter(
        last_seen__lt=timezone.now() - FORGET_AFTER
    ).delete()
    return deleted


class _WorkerHeartbeat:
    """The worker main process's heartbeat thread."""

    def __init__(self, host: str, queues: list[str]) -> None:
        self.host = host
        self.queues = queues
        self.pid = os.getpid()
        self.started_at = timezone.now()
        self._stopped = threading.Event()

    def start(self) -> None:
        self.beat()
        forget_old_processes()
        connections.close_all()
        thread = threading.Thread(target=self._run, name="worker-liveness", daemon=True)
        thread.start()

    def beat(self) -> None:
        record_heartbeat(
            ProcessHeartbeat.Kind.WORKER, self.host, self.pid, self.queues, self.started_at
        )

    def _run(self) -> None:
        while not self._stopped.wait(settings.LIVENESS_INTERVAL_SECONDS):
            try:
                self.beat()
            except DatabaseError:  # a missed beat must never stop the worker
                logger.warning("worker %s could not record its heartbeat", self.host)
            finally:
                # Hold no connection between beats (and none across a pool process's fork).
                connections.close_all()

    def stop(self) -> None:
        self._stopped.set()
        try:
            ProcessHeartbeat.objects.filter(
                kind=ProcessHeartbeat.Kind.WORKER, host=self.host, pid=self.pid
            ).delete()
        except DatabaseError:
            logger.warning("worker %s could not remove its heartbeat", self.host)


_worker_heartbeat: _WorkerHeartbeat | None = None


@signals.worker_ready.connect
def start_worker_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    global _worker_heartbeat
    queues = sorted(sender.app.amqp.queues.consume_from or sender.app.amqp.queues)
    _worker_heartbeat = _WorkerHeartbeat(sender.hostname, queues)
    _worker_heartbeat.start()


@signals.worker_shutdown.connect
def stop_worker_heartbeat(**kwargs: Any) -> None:
    if _worker_heartbeat is not None:
        _worker_heartbeat.stop()


class RecordingScheduler(beat.PersistentScheduler):
    """Celery's default scheduler, which also records beat's heartbeat on its ticks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._host = socket.gethostname()
        self._started_at = timezone.now()
        self._last_recorded = 0.0
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        self._record_heartbeat()
        return super().tick(*args, **kwargs)

    def _record_heartbeat(self) -> None:
        now = timezone.now().timestamp()
        if now - self._last_recorded < settings.LIVENESS_INTERVAL_SECONDS:
            return
        try:
            record_heartbeat(
                ProcessHeartbeat.Kind.BEAT, self._host, os.getpid(), [], self._started_at
            )
            self._last_recorded = now
        except DatabaseError:  # beat keeps scheduling whatever the database does
            logger.warning("beat could not record its heartbeat")
        finally:
            connections.close_all()
