"""Creating a plan and queueing its pipeline, and running a finished plan again."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from planners.actions.action_log import log_action
from planners.models import (
    BacklogItem,
    Plan,
    Project,
)
from planners.pipeline.plans import start_plan
from planners.pipeline.registry import DEFAULT_PIPELINE
from planners.pipeline.scheduling import schedule_ready_items

logger = logging.getLogger(__name__)


def create_plan(
    project: Project,
    *,
    pipeline: str = DEFAULT_PIPELINE,
    branch: str = "main",
    name: str | None = None,
    agent_backend: str | None = None,
    actor: str = "",
) -> Plan:
    """A new ``pipeline`` plan for ``project`` on ``branch`` with the first backlog items its
    pipeline declares (the existing plan when there is one), with the audit trail."""
    with transaction.atomic():
        plan = start_plan(project, pipeline=pipeline, branch=branch, name=name)
        if agent_backend and plan.agent_backend != agent_backend:
            plan.agent_backend = agent_backend
            plan.save(update_fields=["agent_backend", "updated_at"])
        log_action(
            "create-plan",
            actor=actor,
            target=plan,
            detail={
                "plan_id": plan.pk,
                "project": project.title,
                "pipeline": pipeline,
                "branch": branch,
            },
        )
    return plan


def start_pipeline(
    plan: Plan, *, actor: str, agent_backend: str | None = None
) -> list[BacklogItem]:
    """Queue every ready item of ``plan`` on the workers (after commit); returns them.

    ``agent_backend`` picks the agent for items that have not run yet; items that already ran
    keep the agent recorded on them. Nothing ready (a complete plan, or everything waiting on a
    blocked item) queues nothing and says so in the log entry.
    """
    with transaction.atomic():
        if agent_backend and plan.agent_backend != agent_backend:
            plan.agent_backend = agent_backend
            plan.save(update_fields=["agent_backend", "updated_at"])
        queued = schedule_ready_items(plan, actor=actor)
        log_action(
            "run-pipeline",
            actor=actor,
            target=plan,
            detail={
                "plan_id": plan.pk,
                "agent_backend": plan.agent_backend or settings.AGENT_BACKEND,
                "queued": [item.backlog_id for item in queued],
                "plan_status": plan.status,
            },
        )
    return queued


def fresh_run_branch(plan: Plan) -> str:
    """The branch a fresh run of ``plan``'s project and pipeline goes on: ``run-N``, the first
    N (from 2) that no plan of that project and pipeline has taken."""
    taken = set(
        Plan.objects.filter(project_id=plan.project_id, pipeline=plan.pipeline).values_list(
            "branch", flat=True
        )
    )
    number = 2
    while f"run-{number}" in taken:
        number += 1
    return f"run-{number}"


def start_fresh_run(plan: Plan, *, actor: str, agent_backend: str | None = None) -> Plan:
    """Run a complete plan's pipeline again: a new plan of the same project and pipeline on a
    fresh branch (a finished plan's records stay as they are), queued on the workers."""
    fresh = create_plan(
        plan.project,
        pipeline=plan.pipeline,
        branch=fresh_run_branch(plan),
        agent_backend=agent_backend or plan.agent_backend or None,
        actor=actor,
    )
    start_pipeline(fresh, actor=actor, agent_backend=agent_backend)
    return fresh
