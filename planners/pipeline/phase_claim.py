"""Step 1 of a phase, ``claim`` (commit 1): the item and its checkpoint for one worker."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from cognition.agents.base import AgentService
from cognition.worker_identity import current_worker_start
from planners.models import BacklogItem, BacklogStatus, PhaseCheckpoint
from planners.pipeline.attempts import interrupt_running_attempts
from planners.pipeline.checkpoints import claim_checkpoint, find_checkpoint, new_checkpoint
from planners.pipeline.checkpoints import phase_key as checkpoint_key
from planners.pipeline.phase_state import WORKER_ACTOR, Claim
from planners.pipeline.registry import PhaseSpec, pipelines
from planners.pipeline.transitions import transition_backlog_item

logger = logging.getLogger(__name__)


def spec_for(item: BacklogItem) -> PhaseSpec:
    """The phase spec that runs ``item``: its plan's pipeline's phase of that key.
    ``PipelineError`` names what is missing (a pipeline or phase no longer registered)."""
    return pipelines.get(item.plan.pipeline).phase(item.phase)


def agent_contract(item: BacklogItem, backend: str, agent: AgentService) -> dict[str, str]:
    """The agent fields to record the first time the item runs (resume checks them); only
    those not recorded yet."""
    fields = {
        "agent_backend": item.agent_backend or backend,
        "agent_provider": item.agent_provider or agent.provider,
        "agent_model": item.agent_model or agent.model,
    }
    return {name: value for name, value in fields.items() if getattr(item, name) != value}


def claim_holder() -> dict[str, str]:
    """The item fields naming the worker start that claims it (empty outside a worker: a
    phase run in-process is nobody's to recover when a worker restarts)."""
    worker = current_worker_start()
    if worker is None:
        return {"claimed_by": "", "claimed_by_instance": ""}
    return {"claimed_by": worker.node, "claimed_by_instance": worker.instance}


def claim(item: BacklogItem, spec: PhaseSpec, owner: str, contract: dict[str, str]) -> Claim | str:
    """Claim the item and its checkpoint for ``owner`` in one transaction. Returns the
    ``Claim``, or why not: ``claimed-elsewhere`` or ``already-complete``.

    An item that never ran has no checkpoint of its own, so the first try inserts one without
    looking; a key another worker (or a test) inserted first sends it to the look-up."""
    key = checkpoint_key(item, spec)
    holder = claim_holder()
    for tried in range(2):
        found = find_checkpoint(item, key) if item.attempts or tried else None
        try:
            with transaction.atomic():
                if item.status == BacklogStatus.PENDING and not transition_backlog_item(
                    item,
                    BacklogStatus.IN_PROGRESS,
                    reason="phase-start",
                    actor=WORKER_ACTOR,
                    only_from=[BacklogStatus.PENDING],
                ):
                    return "claimed-elsewhere"
                if found is None:
                    checkpoint = new_checkpoint(item, key, owner=owner)
                else:
                    checkpoint = found
                    if checkpoint.status == PhaseCheckpoint.Status.COMPLETE:
                        logger.info("checkpoint %s is already complete", checkpoint.phase_key)
                        return "already-complete"
                    if not claim_checkpoint(checkpoint, owner):
                        logger.info("checkpoint %s is held by another worker", checkpoint.phase_key)
                        return "claimed-elsewhere"
                    checkpoint.attempts += 1
                BacklogItem.objects.filter(pk=item.pk).update(
                    attempts=F("attempts") + 1,
                    heartbeat_at=timezone.now(),
                    **holder,
                    **contract,
                )
                if item.attempts:
                    # Attempts still running belong to a worker that died: this claim
                    # replaces it (an item never claimed before has none).
                    interrupt_running_attempts(item)
        except IntegrityError:
            # Another worker inserted the same plan + phase key first: claim its row instead.
            item.refresh_from_db(fields=["status"])
            continue
        for name, value in {**holder, **contract}.items():
            setattr(item, name, value)
        item.attempts += 1
        return Claim(item=item, spec=spec, checkpoint=checkpoint, owner=owner)
    return "claimed-elsewhere"
