"""Which backlog items can run now, and handing them to the workers.

Item A depends on item B when one of A's input tokens is one of B's output tokens. An item is
*ready* when it is pending and every item it depends on is complete. ``schedule_ready_items``
claims **every** ready item with a conditional update (two workers finishing at the same moment
never queue the same item twice) and enqueues one task per claimed item after the transaction
commits, so independent items run in parallel on several workers.

An input ``after:<phase>`` makes an item wait for every other item of its plan in that phase or
an earlier one of the plan's pipeline (``planners.pipeline.registry``).

Synthetic items (created by synthetic alerts) never run and never count towards a plan's state.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import partial

from django.db import connection, transaction
from django.utils import timezone

from cognition.queueing import queue_task
from planners.models import BacklogItem, BacklogStatus, BacklogTransition, Plan
from planners.pipeline.registry import AFTER_PREFIX, pipelines
from planners.pipeline.transitions import transition_backlog_item
from planners.pipeline.unproduced_inputs import item_tokens

logger = logging.getLogger(__name__)

#: The Celery task that runs one item's phase (defined in ``planners.tasks``).
RUN_PHASE_TASK = "planners.tasks.run_backlog_item_task"

#: Statuses after which an item will not run again without an operator (or the sweep).
STOPPED_STATUSES = frozenset({BacklogStatus.BLOCKED, BacklogStatus.FAILED})


def phase_order(plan: Plan) -> dict[str, int]:
    """The place of each phase of the plan's pipeline (empty for a pipeline not registered)."""
    if plan.pipeline not in pipelines:
        return {}
    return {key: index for index, key in enumerate(pipelines.get(plan.pipeline).phase_keys)}


def dependency_map(
    items: Sequence[BacklogItem], order: Mapping[str, int] | None = None
) -> dict[int, set[int]]:
    """For each item's pk, the pks of the items it depends on (never itself).

    A token nobody produces is an external input and adds no dependency. ``order``: the
    pipeline's phase order, which ``after:<phase>`` inputs read (see the module docstring).
    """
    producers: dict[str, set[int]] = {}
    for item in items:
        for token in item_tokens(item.outputs):
            producers.setdefault(token, set()).add(item.pk)
    order = order or {}
    dependencies: dict[int, set[int]] = {}
    for item in items:
        depends: set[int] = set()
        for token in item_tokens(item.inputs):
            if token.startswith(AFTER_PREFIX):
                limit = order.get(token[len(AFTER_PREFIX) :])
                if limit is not None:
                    depends.update(
                        other.pk for other in items if order.get(other.phase, limit + 1) <= limit
                    )
            else:
                depends.update(producers.get(token, ()))
        depends.discard(item.pk)
        dependencies[item.pk] = depends
    return dependencies


def lock_plan(plan_id: int) -> None:
    """Take the plan's row lock until the transaction ends (call it inside one).

    Everything that changes which of a plan's items are ready and then schedules them takes
    this lock first, so such transactions on one plan commit one after the other and each
    one's scheduling sees what the others committed (two phases finishing at once cannot both
    miss their common dependant). SQLite has no row locks; it lets one transaction write at a
    time.
    """
    if connection.features.has_select_for_update:
        list(Plan.objects.select_for_update().filter(pk=plan_id).values_list("pk"))


def _real_items(plan: Plan) -> list[BacklogItem]:
    """The plan's items that run (synthetic ones never do), in backlog order."""
    return list(
        BacklogItem.objects.filter(plan_id=plan.pk, synthetic=False).order_by("position", "id")
    )


def ready_among(
    items: Sequence[BacklogItem], order: Mapping[str, int] | None = None
) -> list[BacklogItem]:
    """The pending items of ``items`` whose dependencies are all complete."""
    status_by_pk = {item.pk: item.status for item in items}
    dependencies = dependency_map(items, order)
    return [
        item
        for item in items
        if item.status == BacklogStatus.PENDING
        and all(status_by_pk[dep] == BacklogStatus.COMPLETE for dep in dependencies[item.pk])
    ]


def ready_items(plan: Plan) -> list[BacklogItem]:
    """The plan's pending, non-synthetic items whose dependencies are all complete."""
    return ready_among(_real_items(plan), phase_order(plan))


def plan_status_for(
    items: Sequence[BacklogItem], order: Mapping[str, int] | None = None
) -> str | None:
    """The plan status the items imply, or None when there is nothing to judge (no items).

    ``complete`` when every item is complete; ``in_progress`` while something runs or can run;
    ``blocked`` when something is blocked or failed (or waits on such an item) and nothing can
    make progress on its own.
    """
    if not items:
        return None
    statuses = [item.status for item in items]
    if all(status == BacklogStatus.COMPLETE for status in statuses):
        return Plan.Status.COMPLETE
    if BacklogStatus.IN_PROGRESS in statuses or ready_among(items, order):
        return Plan.Status.IN_PROGRESS
    return Plan.Status.BLOCKED


def implied_plan_status(plan: Plan) -> str | None:
    """The status the plan's items imply now, read and not stored (None: it has no items):
    what someone watching the plan goes by, whatever the plan row says."""
    return plan_status_for(_real_items(plan), phase_order(plan))


def refresh_plan_status(plan: Plan, items: Sequence[BacklogItem] | None = None) -> str:
    """Store the status the plan's items imply (a draft with no items stays a draft).

    ``items``: the plan's real items as the caller already holds them in this transaction
    (saves reading them again); read here when not given.
    """
    status = plan_status_for(_real_items(plan) if items is None else items, phase_order(plan))
    if status is not None and status != plan.status:
        changed = (
            Plan.objects.filter(pk=plan.pk)
            .exclude(status=status)
            .update(status=status, updated_at=timezone.now())
        )
        if changed:
            logger.info("plan %s: %s -> %s", plan.pk, plan.status, status)
        plan.status = status
    return plan.status


def _enqueue(item_id: int, correlation_id: str) -> None:
    """Send the phase task (runs after commit). A broker outage must not undo or hide the
    committed claim: the item stays in progress without a heartbeat, so the stale sweep
    resumes it once the broker is back; the error is logged for the operator."""
    try:
        queue_task(RUN_PHASE_TASK, item_id, correlation_id=correlation_id)
    except Exception:
        logger.exception(
            "could not queue backlog item %s on the broker; the stale sweep will resume it",
            item_id,
        )


def schedule_ready_items(
    plan: Plan,
    *,
    actor: str,
    correlation_id: str = "",
    plan_locked: bool = False,
    transitions: list[BacklogTransition] | None = None,
) -> list[BacklogItem]:
    """Claim every ready item of ``plan`` (pending → in_progress, reason ``phase-start``) and
    queue a task for each once the surrounding transaction commits. Returns the claimed items.

    Safe to call from several processes at once: each claim is a conditional update, so an item
    is queued by exactly one caller, and the plan's lock (``lock_plan``) orders concurrent
    callers (``plan_locked``: the caller's transaction already holds it). Also brings the
    plan's status up to date. Runs in the caller's transaction when there is one.
    The claims' transitions go in one INSERT, with those already in ``transitions`` (the
    caller's own, not yet inserted) when given.
    """
    claimed: list[BacklogItem] = []
    with transaction.atomic(savepoint=False):
        if not plan_locked:
            lock_plan(plan.pk)
        items = _real_items(plan)
        batch = transitions if transitions is not None else []
        for item in ready_among(items, phase_order(plan)):
            if transition_backlog_item(
                item,
                BacklogStatus.IN_PROGRESS,
                reason="phase-start",
                actor=actor,
                detail="queued on the worker",
                only_from=[BacklogStatus.PENDING],
                batch=batch,
            ):
                claimed.append(item)
                transaction.on_commit(partial(_enqueue, item.pk, correlation_id))
        if batch:
            BacklogTransition.objects.bulk_create(batch)
        # A claimed item's status was updated in place: the list is what the rows now hold.
        refresh_plan_status(plan, items)
    if claimed:
        logger.info("plan %s: queued %s", plan.pk, ", ".join(item.backlog_id for item in claimed))
    return claimed
