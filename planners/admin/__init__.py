"""Admin registrations, one module per area.

Rows that record what happened (transitions, transcripts, executions, telemetry, the action log,
contract drift, checkpoints) are read-only here: nobody adds, edits or deletes history. Backlog
status changes only through the same actions the console and the commands use, so the admin's
"Resume" action calls ``planners.actions.resume_backlog_item`` and "Run pipeline" calls
``start_pipeline``. Related rows link to each other: backlog item → transcripts → execution.
"""

from planners.admin import (  # noqa: F401
    action_log,
    backlog,
    fiction,
    plans,
    rollout,
    runs,
)
