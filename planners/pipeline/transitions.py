"""Changing a backlog item's status: one conditional update plus its transition row.

Every status change in the product goes through ``transition_backlog_item`` (and a new item's
first status through ``record_new_backlog_item``) so that the history behind flapping
detection, recent transitions and the action log is complete.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from planners.models import BacklogItem, BacklogStatus, BacklogTransition

logger = logging.getLogger(__name__)


# Eight parameters and ~70 lines: the item, its new status and keyword-only options, one claim.
# Longer than most: the conditional update, its locked fallback and the transition row are one
# change of status, and splitting them would hide which statement wins a race.
def transition_backlog_item(
    item: BacklogItem,
    to_status: str,
    *,
    reason: str,
    actor: str = "",
    detail: str = "",
    only_from: Iterable[str] | None = None,
    extra_fields: dict[str, Any] | None = None,
    batch: list[BacklogTransition] | None = None,
) -> bool:
    """Move ``item`` to ``to_status`` if its current status is in ``only_from`` (any status when
    None). Returns whether this call changed the row; a lost race changes nothing and writes no
    transition. ``item`` is refreshed with the new values when the change happens.

    Runs in the caller's transaction when there is one (no savepoint: an error here is the
    caller's to roll back). ``batch``: append the transition row there instead of inserting it;
    the caller inserts the batch (``BacklogTransition.objects.bulk_create``) before it commits."""
    fields = _status_fields(to_status, extra_fields)
    allowed = set(only_from) if only_from is not None else None
    with transaction.atomic(savepoint=False):
        from_status = _change_status(item, to_status, allowed, fields)
        if from_status is None:
            return False
        transition = BacklogTransition(
            item_id=item.pk,
            plan_id=item.plan_id,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            actor=actor,
            detail=detail,
        )
        if batch is None:
            transition.save(force_insert=True)
        else:
            batch.append(transition)
    for name, value in fields.items():
        setattr(item, name, value)
    logger.info(
        "backlog %s: %s -> %s (%s) by %s",
        item.backlog_id,
        from_status,
        to_status,
        reason,
        actor or "-",
    )
    return True


def _status_fields(to_status: str, extra_fields: dict[str, Any] | None) -> dict[str, Any]:
    """The columns a move to ``to_status`` writes, ``extra_fields`` included."""
    now = timezone.now()
    fields: dict[str, Any] = {"status": to_status, "updated_at": now}
    # Any change of status lets go of the worker's claim; the claim step records the next one.
    fields.update(claimed_by="", claimed_by_instance="")
    if to_status == BacklogStatus.IN_PROGRESS:
        fields.update(in_progress_at=now, heartbeat_at=now)
    elif to_status == BacklogStatus.COMPLETE:
        fields["completed_at"] = now
    if extra_fields:
        fields.update(extra_fields)
    return fields


def _change_status(
    item: BacklogItem, to_status: str, allowed: set[str] | None, fields: dict[str, Any]
) -> str | None:
    """Write ``fields`` if the row's status is in ``allowed`` (any when None) and is not
    ``to_status`` already; the status it moved from, or None when nothing changed."""
    current = item.status
    # The status held in memory is usually the row's: then one conditional UPDATE is both the
    # check and the change. When it is not, read the row's status under a lock.
    may_move = current != to_status and (allowed is None or current in allowed)
    if may_move and BacklogItem.objects.filter(pk=item.pk, status=current).update(**fields):
        return current
    locked = (
        BacklogItem.objects.select_for_update()
        .filter(pk=item.pk)
        .values_list("status", flat=True)
        .first()
    )
    if locked is None or locked == to_status or (allowed is not None and locked not in allowed):
        return None
    if BacklogItem.objects.filter(pk=item.pk, status=locked).update(**fields):
        return locked
    return None


def record_new_backlog_item(
    item: BacklogItem, *, reason: str, actor: str = "", detail: str = ""
) -> BacklogTransition:
    """The transition that shows a just-created item entering the backlog (from nothing)."""
    return BacklogTransition.objects.create(
        item=item,
        plan_id=item.plan_id,
        from_status="",
        to_status=item.status,
        reason=reason,
        actor=actor,
        detail=detail,
    )


def record_new_backlog_items(
    items: Sequence[BacklogItem], *, reason: str, actor: str = "", detail: str = ""
) -> list[BacklogTransition]:
    """``record_new_backlog_item`` for items inserted together, in one INSERT."""
    return BacklogTransition.objects.bulk_create(
        [
            BacklogTransition(
                item=item,
                plan_id=item.plan_id,
                from_status="",
                to_status=item.status,
                reason=reason,
                actor=actor,
                detail=detail,
            )
            for item in items
        ]
    )
