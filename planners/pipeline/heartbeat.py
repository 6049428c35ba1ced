"""The heartbeat a running phase keeps, so a phase that outlives its worker goes stale."""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from django.db import connections
from django.utils import timezone

from planners.models import BacklogItem, BacklogStatus, PhaseCheckpoint

logger = logging.getLogger(__name__)


class PhaseHeartbeat:
    """Touches the item's and the checkpoint's ``heartbeat_at`` every ``interval`` seconds from
    a daemon thread while the phase runs."""

    def __init__(self, item_id: int, checkpoint_id: int, owner: str, interval: float) -> None:
        self.item_id = item_id
        self.checkpoint_id = checkpoint_id
        self.owner = owner
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{item_id}", daemon=True)

    def __enter__(self) -> PhaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def beat(self) -> None:
        now = timezone.now()
        # Two autocommit statements, not one transaction: the phase's own transaction locks the
        # checkpoint and then the item, and a beat holding one while waiting for the other
        # could deadlock with it.
        BacklogItem.objects.filter(pk=self.item_id, status=BacklogStatus.IN_PROGRESS).update(
            heartbeat_at=now
        )
        PhaseCheckpoint.objects.filter(
            pk=self.checkpoint_id,
            status=PhaseCheckpoint.Status.RUNNING,
            lock_owner=self.owner,
        ).update(heartbeat_at=now)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.beat()
                except Exception:  # a missed beat must never kill the phase
                    logger.warning("heartbeat for backlog item %s failed", self.item_id)
        finally:
            # The thread's own connection, opened by the first beat.
            connections.close_all()
