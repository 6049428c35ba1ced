"""Operator actions on the pipeline: create a plan, start it, resume a backlog item, sweep.

One function per action, used alike by the admin, the console, the management commands and the
beat task; each is atomic, writes an ``ActionLogEntry``, and queues its Celery tasks only after
the transaction commits. Callers import the actions from this package; each module holds one job.
"""

from __future__ import annotations

from planners.actions.action_log import log_action
from planners.actions.plans import create_plan, fresh_run_branch, start_fresh_run, start_pipeline
from planners.actions.resume import (
    RESUMABLE_STATUSES,
    ResumeRefused,
    ResumeResult,
    can_resume,
    is_orphaned,
    is_stale,
    resume_backlog_item,
    resume_orphaned_items,
    stale_cutoff,
    sweep_stale_items,
)

__all__ = [
    "RESUMABLE_STATUSES",
    "ResumeRefused",
    "ResumeResult",
    "can_resume",
    "create_plan",
    "fresh_run_branch",
    "is_orphaned",
    "is_stale",
    "log_action",
    "resume_backlog_item",
    "resume_orphaned_items",
    "stale_cutoff",
    "start_fresh_run",
    "start_pipeline",
    "sweep_stale_items",
]
