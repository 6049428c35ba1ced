"""Read-only views of rollout records: the planners-by-environments matrix and checklist status.

The console page, ``rollout_status`` and the step note read through here so the four states
(not started, in progress, ready to sign, signed off) are decided in one place, with a fixed
number of queries whatever the number of planners, checklists or items.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q

from planners.framework.catalog import catalog
from planners.framework.metadata import PlannerMetadata
from planners.models.rollout import (
    ChecklistItem,
    ChecklistStatus,
    Environment,
    ItemStatus,
    RolloutChecklist,
    SignOff,
    done_items,
)
from planners.rollouts.actions import ensure_environments


def status_from_counts(
    *, signed: bool, required_total: int, required_done: int, checked: int
) -> ChecklistStatus:
    if signed:
        return ChecklistStatus.SIGNED_OFF
    if required_done >= required_total and checked:
        return ChecklistStatus.READY
    if checked:
        return ChecklistStatus.IN_PROGRESS
    return ChecklistStatus.NOT_STARTED


def checklist_status(
    checklist: RolloutChecklist, items: Iterable[ChecklistItem]
) -> ChecklistStatus:
    items = list(items)
    required = [i for i in items if i.required]
    return status_from_counts(
        signed=checklist.is_signed_off,
        required_total=len(required),
        required_done=sum(1 for i in required if i.is_done),
        checked=sum(1 for i in items if i.checked_at is not None),
    )


@dataclass(frozen=True)
class MatrixCell:
    planner_slug: str
    environment: Environment
    status: ChecklistStatus
    checklist: RolloutChecklist | None = None
    required_total: int = 0
    required_done: int = 0
    sign_off: SignOff | None = None
    waived: int = 0


@dataclass(frozen=True)
class MatrixRow:
    planner: PlannerMetadata
    cells: tuple[MatrixCell, ...]


@dataclass(frozen=True)
class RolloutMatrix:
    environments: tuple[Environment, ...]
    rows: tuple[MatrixRow, ...]


def rollout_matrix() -> RolloutMatrix:
    """Every registered planner in every environment.

    Two queries: the environments, and the checklists with their item counts and sign-off.
    """
    environments = tuple(ensure_environments())
    checklists = (
        RolloutChecklist.objects.select_related("environment", "sign_off")
        .annotate(
            required_total=Count("items", filter=Q(items__required=True)),
            required_done=Count("items", filter=Q(items__required=True) & done_items("items__")),
            checked=Count("items", filter=Q(items__checked_at__isnull=False)),
            waived=Count("items", filter=Q(items__status=ItemStatus.WAIVED)),
        )
        .order_by()
    )
    by_key = {(c.planner_slug, c.environment_id): c for c in checklists}
    rows: list[MatrixRow] = []
    for meta in (p.metadata for p in catalog.all()):
        slug = meta.slug
        cells = []
        for env in environments:
            checklist = by_key.get((slug, env.pk))
            if checklist is None:
                cells.append(MatrixCell(slug, env, ChecklistStatus.NOT_STARTED))
                continue
            sign_off = getattr(checklist, "sign_off", None)
            cells.append(
                MatrixCell(
                    slug,
                    env,
                    status_from_counts(
                        signed=sign_off is not None,
                        required_total=checklist.required_total,
                        required_done=checklist.required_done,
                        checked=checklist.checked,
                    ),
                    checklist,
                    checklist.required_total,
                    checklist.required_done,
                    sign_off,
                    checklist.waived,
                )
            )
        rows.append(MatrixRow(meta, tuple(cells)))
    return RolloutMatrix(environments, tuple(rows))


@dataclass(frozen=True)
class EvidenceInUse:
    """Rows that open checklists' system snapshots name: history retention keeps them until the
    checklist is signed off, so a sign-off can still be audited against them."""

    execution_ids: frozenset[int]
    alert_dedup_keys: frozenset[str]


def evidence_in_use(environment: str) -> EvidenceInUse:
    """What the snapshots of checklists not yet signed off name, in ``environment``'s database
    (a snapshot imported from another deployment names that deployment's rows, not ours)."""
    snapshots = (
        ChecklistItem.objects.filter(checklist__sign_off__isnull=True)
        .exclude(verification="")
        .values_list("evidence_snapshot", flat=True)
    )
    execution_ids: set[int] = set()
    dedup_keys: set[str] = set()
    for snapshot in snapshots:
        if not isinstance(snapshot, dict):
            continue
        if snapshot.get("environment", environment) != environment:
            continue
        if isinstance(snapshot.get("execution_id"), int):
            execution_ids.add(snapshot["execution_id"])
        if isinstance(snapshot.get("dedup_key"), str):
            dedup_keys.add(snapshot["dedup_key"])
        for alert_id in snapshot.get("error_alerts") or ():
            dedup_keys.add(f"{alert_id}@{environment}")
    return EvidenceInUse(frozenset(execution_ids), frozenset(dedup_keys))
