"""Every write to rollout records: the console, the admin and the commands all call these.

The rules of the runbook live here, once: a system-verified item is passed by its check (or an
import of evidence gathered where the check ran), never by hand; a waiver needs a reason; a
signed-off checklist no longer changes; a sign-off needs every required item passed or waived,
the previous environment signed off, and a signer allowed for the environment.

Callers (the console, the admin, the commands and their tests) use ``actions.<name>``, so the
package names every action here; each module holds one part of the runbook.
"""

from __future__ import annotations

from planners.rollouts.actions.checklists import (
    attach_evidence,
    checklist_url,
    create_runbook_items,
    ensure_environments,
    get_environment,
    get_or_create_checklist,
    item_change_problem,
    mark_item,
    planner_metadata,
    record_step_notes,
)
from planners.rollouts.actions.errors import (
    ChecklistLocked,
    EvidenceImportRefused,
    ItemChangeRefused,
    RolloutError,
    SignOffRefused,
    VerificationRefused,
)
from planners.rollouts.actions.evidence_import import import_evidence
from planners.rollouts.actions.sign_offs import previous_environment, sign_off, sign_off_problems
from planners.rollouts.actions.verification_runs import (
    VerificationRun,
    trigger_synthetic_alert_for,
    verify_checklist,
)

__all__ = [
    "ChecklistLocked",
    "EvidenceImportRefused",
    "ItemChangeRefused",
    "RolloutError",
    "SignOffRefused",
    "VerificationRefused",
    "VerificationRun",
    "attach_evidence",
    "checklist_url",
    "create_runbook_items",
    "ensure_environments",
    "get_environment",
    "get_or_create_checklist",
    "import_evidence",
    "item_change_problem",
    "mark_item",
    "planner_metadata",
    "previous_environment",
    "record_step_notes",
    "sign_off",
    "sign_off_problems",
    "trigger_synthetic_alert_for",
    "verify_checklist",
]
