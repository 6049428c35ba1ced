"""Starting a plan: the plan row and the first backlog items its pipeline declares."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from planners.models import Plan, Project
from planners.pipeline.backlog import NewItem, add_backlog_items
from planners.pipeline.registry import DEFAULT_PIPELINE, pipelines, start_items
from planners.pipeline.unproduced_inputs import refresh_unproduced_inputs

logger = logging.getLogger(__name__)


def start_plan(
    project: Project,
    *,
    pipeline: str = DEFAULT_PIPELINE,
    branch: str = "main",
    name: str | None = None,
) -> Plan:
    """The ``pipeline`` plan for ``project`` on ``branch``, created with one item for each phase
    that starts with a plan. Calling it again returns the existing plan unchanged (a plan per
    project, pipeline and branch), so commands and the demo can call it without checking.
    ``PipelineError`` for a pipeline that is not registered."""
    declared = pipelines.get(pipeline)
    existing = Plan.objects.filter(project=project, pipeline=pipeline, branch=branch).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            plan = Plan.objects.create(
                project=project,
                pipeline=pipeline,
                branch=branch,
                name=name or f"{project.title} ({branch})",
            )
            add_backlog_items(
                plan,
                [
                    NewItem(
                        backlog_id=spec.start_backlog_id or spec.key,
                        phase=spec.key,
                        description=spec.start_description or f"{spec.title} of the plan.",
                        inputs=spec.start_inputs,
                        outputs=spec.start_outputs,
                    )
                    for spec in start_items(declared)
                ],
                reason="plan-created",
            )
            refresh_unproduced_inputs([plan.pk])
    except IntegrityError:
        # Another request created the same plan between our check and insert.
        return Plan.objects.get(project=project, pipeline=pipeline, branch=branch)
    logger.info(
        "created %s plan %s for project %s on branch %s", pipeline, plan.pk, project.pk, branch
    )
    return plan
