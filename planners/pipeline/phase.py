"""One backlog item's phase, for any pipeline: claim → run → record.

* ``claim`` takes the item and its checkpoint for one worker (commit 1): the item's start
  transition when still pending; the checkpoint inserted already claimed on first use (the
  unique plan + phase key lets one insert win) or taken with a conditional update; the attempt,
  first heartbeat, agent contract and the worker start holding it (``claimed_by``) on the item.
  It returns a ``Claim`` or why not.
* ``run`` asks the pipeline's runner for the planner's parameters and runs the planner under a
  heartbeat. It writes nothing: every way a run can end (a gate, a bad reply, an agent error, a
  crash, a time limit) comes back as a ``PhaseRun``.
* ``record`` stores the phase whole or not at all (commit 2), under the plan's row lock: the
  execution row and its telemetry events, what the runner materialises from a valid reply, the
  transcripts, the checkpoint's outcome, the item's transition and the claim of every item that
  became ready (their tasks are queued after the commit). A run that will be retried instead
  hands its checkpoint back.

The Celery task (``planners.tasks.run_backlog_item_task``) is these three calls plus the
retry; ``run_item_phase`` is the same in-process, for commands and tests.

Each step is a module of its own (``phase_claim``, ``phase_run``, ``phase_record``, with what
they hand each other in ``phase_state``); this one names them for their callers.
"""

from __future__ import annotations

from cognition.agents.base import AgentService
from planners.models import BacklogItem
from planners.pipeline.phase_claim import agent_contract, claim, spec_for
from planners.pipeline.phase_record import fail_unrunnable, record, should_retry
from planners.pipeline.phase_run import failed_run, run
from planners.pipeline.phase_state import WORKER_ACTOR, Claim, PhaseResult, PhaseRun
from planners.pipeline.registry import PipelineError

__all__ = [
    "WORKER_ACTOR",
    "Claim",
    "PhaseResult",
    "PhaseRun",
    "agent_contract",
    "claim",
    "fail_unrunnable",
    "failed_run",
    "record",
    "run",
    "run_item_phase",
    "should_retry",
    "spec_for",
]


def run_item_phase(
    item: BacklogItem,
    agent: AgentService,
    *,
    correlation_id: str,
    actor: str = WORKER_ACTOR,
    owner: str = "",
) -> PhaseResult | str:
    """Claim, run and record ``item``'s phase in this process (no heartbeat, no retry): what
    the task does, for commands and tests. Returns the result, or why nothing ran."""
    try:
        spec = spec_for(item)
    except PipelineError as exc:
        fail_unrunnable(item, str(exc))
        return "unknown-phase"
    claimed = claim(
        item,
        spec,
        owner or f"local-{correlation_id}",
        agent_contract(item, item.agent_backend or "", agent),
    )
    if isinstance(claimed, str):
        return claimed
    phase_run = run(claimed, agent, correlation_id=correlation_id, actor=actor, heartbeat=False)
    return record(phase_run, retries=None)
