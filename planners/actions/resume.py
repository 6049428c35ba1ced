"""Resuming a stale, blocked or failed backlog item, by hand, by the sweep or by a worker that
started again (what its earlier start held)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cognition.worker_identity import WorkerStart
from planners.actions.action_log import item_label, log_action
from planners.models import (
    BacklogItem,
    BacklogStatus,
    ContractDriftEvent,
    PhaseCheckpoint,
    Plan,
)
from planners.pipeline.scheduling import lock_plan, ready_items, schedule_ready_items
from planners.pipeline.transitions import transition_backlog_item

logger = logging.getLogger(__name__)
RESUMABLE_STATUSES = (BacklogStatus.IN_PROGRESS, BacklogStatus.BLOCKED, BacklogStatus.FAILED)


class ResumeRefused(Exception):
    """A resume that must not happen; the message says why, for the operator."""

    def __init__(self, message: str, *, drift: ContractDriftEvent | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.drift = drift


@dataclass(frozen=True)
class ResumeResult:
    item: BacklogItem
    previous_status: str
    #: True when the item was queued on a worker right away; False when it waits (pending) for
    #: an item it depends on.
    queued: bool


def stale_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(seconds=settings.BACKLOG_STALE_AFTER_SECONDS)


def is_stale(item: BacklogItem, now: datetime | None = None) -> bool:
    """An in-progress item whose worker has not been heard from for the stale threshold."""
    if item.status != BacklogStatus.IN_PROGRESS:
        return False
    last_sign_of_life = item.heartbeat_at or item.in_progress_at or item.updated_at
    return last_sign_of_life is None or last_sign_of_life < stale_cutoff(now)


def is_orphaned(item: BacklogItem, worker: WorkerStart | None) -> bool:
    """An in-progress item claimed by an earlier start of ``worker``'s node: that start is dead
    (a node name runs once at a time), so nothing will finish the item or keep its heartbeat."""
    return (
        worker is not None
        and item.status == BacklogStatus.IN_PROGRESS
        and item.claimed_by == worker.node
        and item.claimed_by_instance != worker.instance
    )


def can_resume(
    item: BacklogItem, now: datetime | None = None, *, worker: WorkerStart | None = None
) -> tuple[bool, str]:
    """Whether ``item`` may be resumed; when not, a sentence the operator can act on.
    ``worker``: the worker start asking, which may resume at once what its node's earlier
    starts held (``is_orphaned``)."""
    label = f"Backlog item {item.backlog_id!r} of plan {item.plan_id}"
    if item.synthetic:
        return False, f"{label} is synthetic (made by a synthetic alert); it never runs."
    if item.status == BacklogStatus.COMPLETE:
        return False, f"{label} is already complete; there is nothing to resume."
    if item.status == BacklogStatus.PENDING:
        return False, (
            f"{label} is already pending; it runs as soon as the items it depends on complete."
        )
    if (
        item.status == BacklogStatus.IN_PROGRESS
        and not is_stale(item, now)
        and not is_orphaned(item, worker)
    ):
        beat = item.heartbeat_at or item.in_progress_at
        ago = f"{int(((now or timezone.now()) - beat).total_seconds())}s ago" if beat else "now"
        return False, (
            f"{label} is running on a worker (last heartbeat {ago}); it can be resumed once its "
            f"heartbeat is older than {settings.BACKLOG_STALE_AFTER_SECONDS}s."
        )
    return True, ""


def _drift(
    item: BacklogItem, agent_backend: str | None, provider: str | None, model: str | None
) -> tuple[dict[str, str], dict[str, str]]:
    """The requested and recorded values that contradict each other (empty when none do)."""
    requested: dict[str, str] = {}
    recorded: dict[str, str] = {}
    for key, wanted, held in (
        ("agent_backend", agent_backend, item.agent_backend),
        ("agent_provider", provider, item.agent_provider),
        ("agent_model", model, item.agent_model),
    ):
        if wanted and held and wanted != held:
            requested[key] = wanted
            recorded[key] = held
    return requested, recorded


def _record_drift(
    item: BacklogItem, requested: dict[str, str], recorded: dict[str, str], *, actor: str
) -> ResumeRefused:
    with transaction.atomic():
        event = ContractDriftEvent.objects.create(
            item=item, plan_id=item.plan_id, requested=requested, recorded=recorded, actor=actor
        )
        log_action(
            "resume-refused",
            actor=actor,
            target=item,
            label=item_label(item),
            detail={
                "plan_id": item.plan_id,
                "backlog_id": item.backlog_id,
                "contract_drift": event.pk,
                "requested": requested,
                "recorded": recorded,
            },
        )
    contradictions = ", ".join(
        f"{key.removeprefix('agent_')} {requested[key]!r} (recorded {recorded[key]!r})"
        for key in requested
    )
    logger.warning("contract drift on %s: %s", item_label(item), contradictions)
    return ResumeRefused(
        f"Refused: backlog item {item.backlog_id!r} already ran under a different agent "
        f"contract: requested {contradictions}. Recorded as contract drift #{event.pk}. "
        "Resume without overriding the agent, or start a new plan for the new agent.",
        drift=event,
    )


def resume_backlog_item(
    item: BacklogItem,
    *,
    actor: str,
    reason: str = "resume",
    agent_backend: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    worker: WorkerStart | None = None,
) -> ResumeResult:
    """Put a stale, blocked or failed item back to ``pending`` and schedule it.

    Raises ``ResumeRefused`` for an item that cannot be resumed (``can_resume``, asked for
    ``worker``) and for a request whose agent backend, provider or model contradicts what the
    item already ran with; the latter is recorded as a ``ContractDriftEvent`` first. ``reason``
    is ``resume`` for people and ``auto-resume`` for the sweep and a restarted worker; it names
    the transition and the action log entry.
    """
    item.refresh_from_db()
    allowed, why = can_resume(item, worker=worker)
    if not allowed:
        raise ResumeRefused(why)
    requested, recorded = _drift(item, agent_backend, provider, model)
    if requested:
        raise _record_drift(item, requested, recorded, actor=actor)

    previous = item.status
    with transaction.atomic():
        # The plan's lock before the item's row: the order every scheduling transaction takes.
        lock_plan(item.plan_id)
        contract = _missing_contract(item, agent_backend, provider, model)
        _reopen(item, previous=previous, reason=reason, actor=actor, contract=contract)
        queued = schedule_ready_items(item.plan, actor=actor)
        log_action(
            reason,
            actor=actor,
            target=item,
            label=item_label(item),
            detail={
                "plan_id": item.plan_id,
                "backlog_id": item.backlog_id,
                "from": previous,
                "queued": any(q.pk == item.pk for q in queued),
            },
        )
    item.refresh_from_db()
    return ResumeResult(
        item=item, previous_status=previous, queued=any(q.pk == item.pk for q in queued)
    )


def _missing_contract(
    item: BacklogItem, agent_backend: str | None, provider: str | None, model: str | None
) -> dict[str, str]:
    """The requested agent fields the item has not recorded yet (drift is refused before)."""
    return {
        name: value
        for name, value in (
            ("agent_backend", agent_backend),
            ("agent_provider", provider),
            ("agent_model", model),
        )
        if value and not getattr(item, name)
    }


def _reopen(
    item: BacklogItem, *, previous: str, reason: str, actor: str, contract: dict[str, str]
) -> None:
    """Move the item back to pending from ``previous`` and free its checkpoint."""
    if not transition_backlog_item(
        item,
        BacklogStatus.PENDING,
        reason=reason,
        actor=actor,
        detail=f"resumed from {previous}",
        only_from=[previous],
        extra_fields=contract or None,
    ):
        raise ResumeRefused(
            f"Backlog item {item.backlog_id!r} changed while resuming it; look again."
        )
    # Free the checkpoint so the next task can claim it (a complete one stays complete).
    PhaseCheckpoint.objects.filter(backlog_item=item).exclude(
        status=PhaseCheckpoint.Status.COMPLETE
    ).update(status=PhaseCheckpoint.Status.PENDING, lock_owner="", updated_at=timezone.now())


def _auto_resume(
    items: Iterable[BacklogItem], *, actor: str, worker: WorkerStart | None = None
) -> int:
    """``resume_backlog_item`` with reason ``auto-resume`` for each of ``items``; returns how
    many were resumed."""
    resumed = 0
    for item in items:
        try:
            resume_backlog_item(item, actor=actor, reason="auto-resume", worker=worker)
        except ResumeRefused as refusal:  # raced with a worker or an operator: fine
            logger.info("%s skipped %s: %s", actor, item_label(item), refusal)
            continue
        resumed += 1
    return resumed


def resume_orphaned_items(worker: WorkerStart, *, actor: str) -> int:
    """Auto-resume every in-progress item an earlier start of ``worker``'s node claimed
    (``is_orphaned``), at once: a restarted worker does not wait for their heartbeats to go
    stale. Items other nodes claimed are left to the stale rule. Returns how many it resumed."""
    orphaned = (
        BacklogItem.objects.filter(
            status=BacklogStatus.IN_PROGRESS, synthetic=False, claimed_by=worker.node
        )
        .exclude(claimed_by_instance=worker.instance)
        .select_related("plan")
    )
    resumed = _auto_resume(orphaned, actor=actor, worker=worker)
    if resumed:
        logger.info("%s resumed %s item(s) of its earlier start", worker.node, resumed)
    return resumed


def sweep_stale_items(
    *, actor: str, now: datetime | None = None, worker: WorkerStart | None = None
) -> int:
    """Auto-resume every stale in-progress item, and those an earlier start of ``worker`` (the
    one running the sweep) claimed; queue ready items of in-progress plans that nothing drives
    any more (a worker died between a commit and its enqueue). Returns the number of items
    resumed."""
    resumed = resume_orphaned_items(worker, actor=actor) if worker is not None else 0
    cutoff = stale_cutoff(now)
    stale = BacklogItem.objects.filter(
        status=BacklogStatus.IN_PROGRESS, synthetic=False, heartbeat_at__lt=cutoff
    ).select_related("plan")
    resumed += _auto_resume(stale, actor=actor)
    for plan in Plan.objects.filter(status=Plan.Status.IN_PROGRESS):
        running = plan.backlog_items.filter(
            status=BacklogStatus.IN_PROGRESS, synthetic=False
        ).exists()
        if not running and ready_items(plan):
            schedule_ready_items(plan, actor=actor)
    if resumed:
        logger.info("sweep resumed %s backlog item(s)", resumed)
    return resumed
