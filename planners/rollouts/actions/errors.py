"""Why a rollout rule refused a request, as exceptions whose message is for people."""

from __future__ import annotations

from collections.abc import Sequence

from planners.models.rollout import (
    RolloutChecklist,
)


class RolloutError(Exception):
    """A rollout rule refused the request; the message says why, for people."""


class ChecklistLocked(RolloutError):
    pass


class ItemChangeRefused(RolloutError):
    pass


class VerificationRefused(RolloutError):
    pass


class EvidenceImportRefused(RolloutError):
    pass


class SignOffRefused(RolloutError):
    def __init__(self, checklist: RolloutChecklist, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__(f"Cannot sign off {checklist}: " + "; ".join(self.reasons))
