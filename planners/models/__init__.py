from planners.models.audit import ActionLogEntry
from planners.models.backlog import (
    BacklogItem,
    BacklogStatus,
    BacklogTransition,
    ContractDriftEvent,
    PhaseCheckpoint,
    PhaseTranscript,
)
from planners.models.execution import (
    ExecutionRollup,
    ExecutionRollupMark,
    PlannerExecution,
    PlannerOutcome,
    TelemetryEvent,
)
from planners.models.fiction import (
    CastMember,
    ChapterBeat,
    ChapterBlueprint,
    ChapterScene,
    ChapterScroll,
    ChapterSection,
    FictionItemTarget,
    FictionProfile,
    FictionVision,
    LoreRequirement,
    PlanPass,
)
from planners.models.nonfiction import NonfictionBrief, NonfictionOutline, OutlineSection
from planners.models.plan import Plan, Project
from planners.models.rollout import (
    ChecklistItem,
    Environment,
    RolloutChecklist,
    RolloutWatch,
    SignOff,
)

__all__ = [
    "ActionLogEntry",
    "BacklogItem",
    "BacklogStatus",
    "BacklogTransition",
    "CastMember",
    "ChapterBeat",
    "ChapterBlueprint",
    "ChapterScene",
    "ChapterScroll",
    "ChapterSection",
    "ChecklistItem",
    "ContractDriftEvent",
    "Environment",
    "ExecutionRollup",
    "ExecutionRollupMark",
    "FictionItemTarget",
    "FictionProfile",
    "FictionVision",
    "LoreRequirement",
    "NonfictionBrief",
    "NonfictionOutline",
    "OutlineSection",
    "PhaseCheckpoint",
    "PhaseTranscript",
    "Plan",
    "PlanPass",
    "PlannerExecution",
    "PlannerOutcome",
    "Project",
    "RolloutChecklist",
    "RolloutWatch",
    "SignOff",
    "TelemetryEvent",
]
