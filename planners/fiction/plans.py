"""Starting a fiction plan: the plan row and its first backlog item."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from planners.fiction.phases import VISION_BACKLOG_ID, VISION_OUTPUT
from planners.models import (
    BacklogItem,
    FictionPlan,
    FictionProject,
    Phase,
)
from planners.transitions import record_new_backlog_item

logger = logging.getLogger(__name__)


def create_plan(
    project: FictionProject, *, branch: str = "main", name: str | None = None
) -> FictionPlan:
    """The plan for ``project`` on ``branch``, created with its ``vision-plan`` item if new.

    Calling it again returns the existing plan unchanged (a plan per project and branch), so
    commands and the demo can call it without checking first.
    """
    existing = FictionPlan.objects.filter(project=project, branch=branch).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            plan = FictionPlan.objects.create(
                project=project,
                branch=branch,
                name=name or f"{project.title} ({branch})",
            )
            item = BacklogItem.objects.create(
                plan=plan,
                backlog_id=VISION_BACKLOG_ID,
                description="Vision: the plan's intent, cast, lore and the passes still needed.",
                phase=Phase.VISION,
                position=0,
                inputs=[],
                outputs=[VISION_OUTPUT],
            )
            record_new_backlog_item(item, reason="plan-created")
    except IntegrityError:
        # Another request created the same plan between our check and insert.
        return FictionPlan.objects.get(project=project, branch=branch)
    logger.info("created plan %s for project %s on branch %s", plan.pk, project.pk, branch)
    return plan
