"""The runbook's checklist as data: every new ``RolloutChecklist`` starts from these items.

Source: the runbook shipped with the product, ``docs/planner-rollout-runbook.md`` (its Quick
reference and section 3); each item's section is a heading there, and ``section_link`` points
at it. Each item keeps the runbook's wording, says whether sign-off needs it, and
names the system check (``planners.rollouts.verification.CHECKS``) that verifies it from live
data, if there is one. Changing this list affects checklists created afterwards only: existing
ones keep the items they were created with, so a sign-off always refers to what was checked.
"""

from __future__ import annotations

from dataclasses import dataclass

QUICK_REFERENCE = "Quick reference"
DEPLOY = "3.1 Deploy artifacts"
DATABASE = "3.2 Database & seeder"
CONFIGURATION = "3.3 Configuration"
SMOKE_TESTS = "3.4 Smoke tests"
OPS_VERIFICATION = "3.5 Ops verification"
SIGN_OFF = "3.6 Sign-off"
WATCH = "4 Watch period"
FOLLOW_UPS = "5 After the rollout"

# System check names (keys of ``planners.rollouts.verification.CHECKS``).
TEMPLATE_SEEDED = "template_seeded"
DIAGNOSTICS_HEALTHY = "diagnostics_healthy"
OPS_CONFIG_VALID = "ops_config_valid"
SYNTHETIC_ALERT_ACKNOWLEDGED = "synthetic_alert_acknowledged"
PIPELINE_RUN_COMPLETED = "pipeline_run_completed"
MIGRATIONS_APPLIED = "migrations_applied"

#: The item that the sign-off itself completes; it is never marked by hand.
SIGN_OFF_ITEM_KEY = "sign-off"


@dataclass(frozen=True)
class RunbookItem:
    key: str
    section: str
    title: str
    guidance: str = ""
    required: bool = True
    verification: str = ""


RUNBOOK_ITEMS: tuple[RunbookItem, ...] = (
    # --- Quick Reference Checklist ------------------------------------------------------------
    RunbookItem(
        "planner-base",
        QUICK_REFERENCE,
        "Planner tool + parameters derived from PlannerBase.",
        "Parameters are a pydantic model; the planner class declares PlannerMetadata.",
    ),
    RunbookItem(
        "runner-uses-planner",
        QUICK_REFERENCE,
        "Runner uses planner, builds PlannerContext, converts PlannerResult.",
    ),
    RunbookItem(
        "template-seeded",
        QUICK_REFERENCE,
        "Prompt template seeded and available in tests.",
        "Verified: every step's template exists, is active and has text.",
        verification=TEMPLATE_SEEDED,
    ),
    RunbookItem(
        "pipeline-tests",
        QUICK_REFERENCE,
        "Pipeline tests updated with deterministic response + assertions.",
        "A scripted-reply test for the planner's phase (startplanner generates one).",
    ),
    RunbookItem(
        "ops-validator",
        QUICK_REFERENCE,
        "Ops validator passes (webhook + SLO thresholds).",
        "Verified: Ops alerting is enabled and its configuration validates.",
        verification=OPS_CONFIG_VALID,
    ),
    RunbookItem("docs-updated", QUICK_REFERENCE, "README / plan docs updated."),
    RunbookItem(
        "step-note",
        QUICK_REFERENCE,
        "Step note recorded.",
        "Generated from these records: python manage.py rollout_note PLANNER ENVIRONMENT.",
        required=False,
    ),
    RunbookItem(
        "lower-env-validated",
        QUICK_REFERENCE,
        "Lower env deployment validated (planner diagnostics + Ops webhook).",
        "Verified: no error alert anywhere in the health report, and no warning naming this "
        "planner unless acknowledged with a note.",
        verification=DIAGNOSTICS_HEALTHY,
    ),
    RunbookItem(
        "legacy-cleanup",
        QUICK_REFERENCE,
        "Legacy code scheduled for cleanup once rollout is stable.",
        required=False,
    ),
    # --- Section 3: Lower Environment Rollout -------------------------------------------------
    RunbookItem(
        "deploy-artifacts",
        DEPLOY,
        "Web and worker workloads built and published with the new planner.",
        "Evidence: the release, image tag or commit deployed.",
    ),
    RunbookItem(
        "migrations-applied",
        DATABASE,
        "Database migrations applied.",
        "Verified: no migration of any app is waiting (python manage.py migrate).",
        verification=MIGRATIONS_APPLIED,
    ),
    RunbookItem(
        "seeder-ran",
        DATABASE,
        "Seeder ran and the planner's prompt templates exist.",
        "Verified: every step's template exists, is active and has text.",
        verification=TEMPLATE_SEEDED,
    ),
    RunbookItem(
        "ops-configuration",
        CONFIGURATION,
        "Ops alerting settings populated; start-up validation succeeded.",
        "Verified: OPS_ALERTING_* settings validate (webhook, routes, SLO thresholds).",
        verification=OPS_CONFIG_VALID,
    ),
    RunbookItem(
        "diagnostics-healthy",
        SMOKE_TESTS,
        "Diagnostics list the planner's templates, no alert regressions.",
        "Verified: /api/diagnostics/planner finds every step's template, no error alert fires "
        "anywhere, and no warning names this planner unless acknowledged with a note.",
        verification=DIAGNOSTICS_HEALTHY,
    ),
    RunbookItem(
        "scripted-pipeline",
        SMOKE_TESTS,
        "Scripted pipeline run of the planner's phase completed.",
        "Verified: a successful planner execution for this planner in this environment.",
        verification=PIPELINE_RUN_COMPLETED,
    ),
    RunbookItem(
        "console-telemetry",
        SMOKE_TESTS,
        "Console telemetry (Operations → Backlog Telemetry) shows the phase with backlog "
        "coverage and alert metadata.",
        "Evidence: a screenshot of the telemetry page.",
    ),
    RunbookItem(
        "synthetic-alert",
        OPS_VERIFICATION,
        "Synthetic planner alert triggered and acknowledged by the target channel.",
        "Verified: the drill was delivered (2xx) to the route its rules choose and acknowledged "
        "through that delivery's link or channel within the evidence window; never by the "
        "admin, console or API.",
        verification=SYNTHETIC_ALERT_ACKNOWLEDGED,
    ),
    RunbookItem(
        "ops-routing-confirmed",
        OPS_VERIFICATION,
        "Webhook payload carried routing/SLO metadata; recipients confirmed routing.",
        "Evidence: the Slack message or PagerDuty incident link.",
    ),
    RunbookItem(
        SIGN_OFF_ITEM_KEY,
        SIGN_OFF,
        "Deployment date, verification artefacts and owner sign-off recorded.",
        "Completed by signing off this checklist.",
        required=False,
    ),
)

#: Section 4 of the runbook: what to do after every rollout, listed in each step note.
POST_ROLLOUT_FOLLOW_UPS: tuple[str, ...] = (
    "Monitor planner health dashboards for 24-48 hours to catch flapping or stale backlog "
    "regressions.",
    "Schedule backlog grooming or model tuning if critique thresholds trigger frequently.",
    "Queue non-fiction planner audits once fiction pipeline stability is confirmed.",
    "Remove legacy runner scaffolding for the migrated planner once rollout is complete.",
)

RUNBOOK_PATH = "docs/planner-rollout-runbook.md"


def heading_anchor(heading: str) -> str:
    """The anchor a Markdown viewer (GitHub, GitLab) gives a heading: lower case, punctuation
    other than hyphens dropped, each space a hyphen."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def section_link(section: str) -> str:
    """Where ``section`` is in the runbook, as a repository path with its heading's anchor."""
    return f"{RUNBOOK_PATH}#{heading_anchor(section)}"
