"""The demo project: one scripted pipeline queued on first start so the console has content.

``runconsole`` calls ``ensure_demo_pipeline()`` unless ``DEMO=0``; ``run_pipeline`` uses the same
project by default. Scripted replies make the run offline and deterministic.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction

from planners.actions import create_plan, start_pipeline
from planners.models import FictionProfile, Plan, Project

logger = logging.getLogger(__name__)

DEMO_ACTOR = "demo"
DEMO_PROJECT_TITLE = "The Lantern Archive"
DEMO_PROJECT: dict[str, Any] = {
    "description": (
        "A tide-haunted mystery in the drowned city of Vesper Reach, where the lantern routes "
        "everyone trusts were drawn to hide what the sea took."
    ),
    "logline": (
        "An apprentice cartographer finds a map that lies, and follows it into the Drowned Archive."
    ),
    "author_persona_name": "Ada Marlowe",
    "author_persona_summary": "Writes quiet, precise mysteries where places keep secrets.",
    "author_persona_memories": "Grew up on a tidal island; still counts the lanterns at dusk.",
    "author_world_notes": "Vesper Reach: the dry Heights, the half-flooded Stair, the Low City.",
}


def get_or_create_project(title: str) -> tuple[Project, bool]:
    """The project called ``title``, created if needed; the demo title gets the demo's story
    (its description, and the logline and author persona fiction's phases read)."""
    if title != DEMO_PROJECT_TITLE:
        return Project.objects.get_or_create(title=title)
    story = dict(DEMO_PROJECT)
    project, created = Project.objects.get_or_create(
        title=title, defaults={"description": story.pop("description")}
    )
    if created:
        FictionProfile.objects.create(project=project, **story)
    return project, created


def ensure_demo_pipeline() -> Plan | None:
    """Create the demo project and plan and queue its scripted pipeline, once.

    Returns the queued plan, or None when the demo project already exists (a later start, or
    another process got there first): the demo never runs twice by itself.
    """
    if Project.objects.filter(title=DEMO_PROJECT_TITLE).exists():
        return None
    try:
        with transaction.atomic():
            project, _ = get_or_create_project(DEMO_PROJECT_TITLE)
            plan = create_plan(project, agent_backend="scripted", actor=DEMO_ACTOR)
            start_pipeline(plan, actor=DEMO_ACTOR, agent_backend="scripted")
    except IntegrityError:  # another process created the project between the check and here
        return None
    logger.info("queued the demo pipeline: plan %s of %r", plan.pk, DEMO_PROJECT_TITLE)
    return plan
