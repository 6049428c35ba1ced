"""The evidence file one deployment exports and another imports (``*_rollout_evidence``).

Each deployment has its own database, so the staging deployment cannot see that dev was signed
off unless dev's evidence is carried over. The file names its planner and environment; the
import (``planners.rollouts.actions.import_evidence``) writes it under that checklist only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cognition.build import build_info
from planners.models.rollout import ItemStatus, RolloutChecklist, SignOff
from planners.rollouts.signing import sign_evidence
from planners.rollouts.watch import WatchState, watch_state

EVIDENCE_FORMAT: Literal["planner-ops.rollout-evidence"] = "planner-ops.rollout-evidence"
EVIDENCE_VERSION: Literal[1] = 1


class EvidenceItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str
    title: str = ""
    status: Literal["pending", "passed", "failed", "waived"]
    evidence_text: str = ""
    evidence_link: str = ""
    evidence_file: str = ""
    evidence_snapshot: dict[str, Any] = Field(default_factory=dict)
    waiver_reason: str = ""
    checked_by: str = ""
    checked_via: str = ""
    checked_at: dt.datetime | None = None

    @model_validator(mode="after")
    def _waiver_has_reason(self) -> EvidenceItem:
        if self.status == ItemStatus.WAIVED and not self.waiver_reason.strip():
            raise ValueError(f"item {self.key!r} is waived without a reason")
        return self


class EvidenceSignOff(BaseModel):
    owner_name: str = Field(min_length=1)
    deployment_date: dt.date
    note: str = ""
    signed_at: dt.datetime


class EvidenceWatch(BaseModel):
    """The watch the sign-off started, as the exporting deployment saw it."""

    model_config = ConfigDict(extra="ignore")

    state: Literal["watching", "passed", "failed", "inconclusive"]
    started_at: dt.datetime
    ends_at: dt.datetime
    min_runs: int = Field(ge=0)
    runs: int = Field(0, ge=0)
    failures: int = Field(0, ge=0)
    alerts: list[dict[str, Any]] = Field(default_factory=list)


class EvidenceDeployment(BaseModel):
    version: str = ""
    build: str = ""


class EvidenceFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format: Literal["planner-ops.rollout-evidence"]
    version: Literal[1]
    planner: str = Field(min_length=1)
    environment: str = Field(min_length=1)
    exported_at: dt.datetime
    files_touched: str = ""
    follow_ups: str = ""
    items: list[EvidenceItem]
    sign_off: EvidenceSignOff | None = None
    watch: EvidenceWatch | None = None
    deployment: EvidenceDeployment | None = None


def _exported_watch(checklist: RolloutChecklist) -> EvidenceWatch | None:
    status = watch_state(checklist)
    if status.state == WatchState.NOT_STARTED or status.started_at is None:
        return None
    assert status.ends_at is not None
    return EvidenceWatch(
        state=status.state.value,  # type: ignore[arg-type]
        started_at=status.started_at,
        ends_at=status.ends_at,
        min_runs=status.min_runs,
        runs=status.seen.runs,
        failures=status.seen.failures,
        alerts=status.seen.alerts,
    )


def export_evidence(checklist: RolloutChecklist) -> dict[str, Any]:
    """The checklist's records as a JSON-ready dict (see ``EvidenceFile``), signed with
    ``ROLLOUT_EVIDENCE_KEY`` when it is set (``planners.rollouts.signing``)."""
    record = SignOff.objects.filter(checklist=checklist).first()
    items = [
        EvidenceItem(
            key=item.key,
            title=item.title,
            status=item.status,  # type: ignore[arg-type]
            evidence_text=item.evidence_text,
            evidence_link=item.evidence_link,
            evidence_file=item.evidence_file.name or "",
            evidence_snapshot=item.evidence_snapshot,
            waiver_reason=item.waiver_reason,
            checked_by=item.checked_by,
            checked_via=item.checked_via,
            checked_at=item.checked_at,
        )
        for item in checklist.items.all()
    ]
    evidence = EvidenceFile(
        format=EVIDENCE_FORMAT,
        version=EVIDENCE_VERSION,
        planner=checklist.planner_slug,
        environment=checklist.environment.name,
        exported_at=timezone.now(),
        files_touched=checklist.files_touched,
        follow_ups=checklist.follow_ups,
        items=items,
        sign_off=EvidenceSignOff(
            owner_name=record.owner_name,
            deployment_date=record.deployment_date,
            note=record.note,
            signed_at=record.signed_at,
        )
        if record is not None
        else None,
        watch=_exported_watch(checklist),
        deployment=EvidenceDeployment(**build_info().to_dict()),
    )
    return sign_evidence(evidence.model_dump(mode="json"))
