"""Phase checkpoints: one per plan and phase key, what makes a phase safe to run twice.

The key is ``<phase>|<branch>|<target>``, the target being the row the phase works on as its
pipeline's runner names it (``PhaseRunner.checkpoint_target``), so it is stable across retries.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from planners.models import BacklogItem, PhaseCheckpoint
from planners.pipeline.registry import PhaseSpec


def phase_key(item: BacklogItem, spec: PhaseSpec) -> str:
    """The checkpoint key of the phase that runs ``item``."""
    return f"{item.phase}|{item.plan.branch}|{spec.runner.checkpoint_target(item)}"


def find_checkpoint(item: BacklogItem, key: str) -> PhaseCheckpoint | None:
    """The item's checkpoint if it has one, in one query. An existing checkpoint of the item
    wins over the computed key: a runner may attach a target row to the item while it runs,
    and a redelivered task must find the same checkpoint."""
    found = list(
        PhaseCheckpoint.objects.filter(
            Q(backlog_item=item) | Q(phase_key=key), plan_id=item.plan_id
        ).order_by("id")
    )
    mine = next((c for c in found if c.backlog_item_id == item.pk), None)
    if mine is not None:
        return mine
    return next((c for c in found if c.phase_key == key), None)


def new_checkpoint(item: BacklogItem, key: str, *, owner: str = "") -> PhaseCheckpoint:
    """Insert the item's checkpoint, already claimed by ``owner`` when given (the insert is the
    claim: the unique plan + phase key lets one insert win). An ``IntegrityError`` means another
    worker inserted the same key first."""
    now = timezone.now()
    claimed = (
        {
            "status": PhaseCheckpoint.Status.RUNNING,
            "lock_owner": owner,
            "locked_at": now,
            "heartbeat_at": now,
            "attempts": 1,
        }
        if owner
        else {}
    )
    return PhaseCheckpoint.objects.create(
        plan_id=item.plan_id, phase_key=key, phase=item.phase, backlog_item=item, **claimed
    )


def checkpoint_for(item: BacklogItem, key: str) -> PhaseCheckpoint:
    """The item's checkpoint, created on first use (one per plan + phase key, never two); of
    two workers inserting the same key at once the loser reads the winner's row."""
    found = find_checkpoint(item, key)
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return new_checkpoint(item, key)
    except IntegrityError:
        return PhaseCheckpoint.objects.get(plan_id=item.plan_id, phase_key=key)


def claim_checkpoint(checkpoint: PhaseCheckpoint, owner: str) -> bool:
    """Take the checkpoint for ``owner``; True for exactly one of several racing workers.

    Claimable: not running (pending, blocked, failed); running under the same owner (the broker
    redelivered this very task after its worker died); or running with a heartbeat older than
    the stale threshold (its worker is gone).
    """
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.BACKLOG_STALE_AFTER_SECONDS)
    claimable = (
        Q(status__in=[PhaseCheckpoint.Status.PENDING, PhaseCheckpoint.Status.BLOCKED])
        | Q(status=PhaseCheckpoint.Status.FAILED)
        | Q(status=PhaseCheckpoint.Status.RUNNING, lock_owner=owner)
        | Q(status=PhaseCheckpoint.Status.RUNNING, lock_owner="")
        | Q(status=PhaseCheckpoint.Status.RUNNING, heartbeat_at__lt=stale_before)
    )
    claimed = (
        PhaseCheckpoint.objects.filter(claimable, pk=checkpoint.pk)
        .exclude(status=PhaseCheckpoint.Status.COMPLETE)
        .update(
            status=PhaseCheckpoint.Status.RUNNING,
            lock_owner=owner,
            locked_at=now,
            heartbeat_at=now,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    )
    return claimed == 1
