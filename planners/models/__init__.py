from planners.models.audit import ActionLogEntry
from planners.models.backlog import (
    BacklogItem,
    BacklogStatus,
    BacklogTransition,
    ContractDriftEvent,
    Phase,
    PhaseCheckpoint,
    PhaseTranscript,
)
from planners.models.execution import PlannerExecution, PlannerOutcome, TelemetryEvent
from planners.models.fiction import (
    CastMember,
    ChapterBeat,
    ChapterBlueprint,
    ChapterScene,
    ChapterScroll,
    ChapterSection,
    FictionPlan,
    FictionProject,
    LoreRequirement,
    PlanPass,
)
from planners.models.rollout import (
    ChecklistItem,
    Environment,
    RolloutChecklist,
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
    "FictionPlan",
    "FictionProject",
    "LoreRequirement",
    "Phase",
    "PhaseCheckpoint",
    "PhaseTranscript",
    "PlanPass",
    "PlannerExecution",
    "PlannerOutcome",
    "RolloutChecklist",
    "SignOff",
    "TelemetryEvent",
]
