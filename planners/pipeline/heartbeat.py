"""The heartbeat running phases keep, so a phase that outlives its worker goes stale.

One daemon thread per worker process beats for every phase the process is running, with two
statements per beat whatever their number: a threads pool with 64 phases in flight costs one
database connection for its heartbeat, not 64.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from types import TracebackType

from django.db import connections
from django.db.models import Q
from django.utils import timezone

from planners.models import BacklogItem, BacklogStatus, PhaseCheckpoint

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Beating:
    item_id: int
    checkpoint_id: int
    owner: str


class _Heart:
    """The process's heartbeat thread and the phases it beats for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._beating: dict[int, _Beating] = {}
        self._thread: threading.Thread | None = None
        self.interval = 30.0

    def add(self, beating: _Beating, interval: float) -> None:
        with self._lock:
            self._beating[id(beating)] = beating
            self.interval = interval
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="phase-heartbeat")
                self._thread.daemon = True
                self._thread.start()

    def remove(self, beating: _Beating) -> None:
        with self._lock:
            self._beating.pop(id(beating), None)

    def beat(self) -> None:
        with self._lock:
            beating = list(self._beating.values())
        if not beating:
            return
        now = timezone.now()
        # Two autocommit statements, not one transaction: a phase's own transaction locks the
        # checkpoint and then the item, and a beat holding one while waiting for the other
        # could deadlock with it.
        BacklogItem.objects.filter(
            pk__in=[b.item_id for b in beating], status=BacklogStatus.IN_PROGRESS
        ).update(heartbeat_at=now)
        mine = Q()
        for b in beating:
            mine |= Q(pk=b.checkpoint_id, lock_owner=b.owner)
        PhaseCheckpoint.objects.filter(mine, status=PhaseCheckpoint.Status.RUNNING).update(
            heartbeat_at=now
        )

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                self.beat()
            except Exception:  # a missed beat must never kill the worker
                logger.warning("heartbeat of %s running phase(s) failed", len(self._beating))
                connections.close_all()


_heart = _Heart()


class PhaseHeartbeat:
    """Keeps the item's and the checkpoint's ``heartbeat_at`` fresh every ``interval`` seconds
    while the ``with`` block runs."""

    def __init__(self, item_id: int, checkpoint_id: int, owner: str, interval: float) -> None:
        self._beating = _Beating(item_id, checkpoint_id, owner)
        self.interval = interval

    def __enter__(self) -> PhaseHeartbeat:
        _heart.add(self._beating, self.interval)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _heart.remove(self._beating)
