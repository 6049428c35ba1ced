"""Plans: every plan with its backlog counts (plan list, backlog card, counters strip) and one
plan's phases with their checkpoints, items and transcripts (the plan page)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, F, Prefetch, Window
from django.db.models.functions import RowNumber

from planners.models import (
    BacklogItem,
    BacklogStatus,
    BacklogTransition,
    PhaseCheckpoint,
    PhaseTranscript,
    Plan,
)
from planners.pipeline.registry import pipelines

STATUS_VALUES: tuple[str, ...] = tuple(BacklogStatus.values)
ITEMS_PER_PHASE = 50
TRANSCRIPTS_PER_PHASE = 20
TRANSITIONS_PER_ITEM = 5


@dataclass(frozen=True)
class PlanLabel:
    """What the plan listings show of a plan (its long texts and JSON are left unread)."""

    pk: int
    name: str
    branch: str
    status: str
    updated_at: datetime
    project_title: str
    pipeline: str


@dataclass
class PlanCounts:
    plan: PlanLabel
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def cells(self) -> list[tuple[str, int]]:
        """Counts in the order of the status columns."""
        return [(status, self.counts.get(status, 0)) for status in STATUS_VALUES]


def plans_with_counts() -> list[PlanCounts]:
    """Every plan with its backlog counts by status; two queries, read as tuples.

    Synthetic items (made by synthetic alerts) are left out of the counts, and a plan holding
    nothing but synthetic items is left out altogether: it is a test fixture, not work."""
    plans = [
        PlanLabel(*row)
        for row in Plan.objects.order_by("project__title", "branch").values_list(
            "pk", "name", "branch", "status", "updated_at", "project__title", "pipeline"
        )
    ]
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    synthetic_only: set[int] = set()
    real_plans: set[int] = set()
    rows = (
        BacklogItem.objects.values_list("plan_id", "status", "synthetic")
        .annotate(n=Count("*"))
        .order_by()
    )
    for plan_id, status, synthetic, n in rows:
        if synthetic:
            synthetic_only.add(plan_id)
            continue
        real_plans.add(plan_id)
        counts[plan_id][status] = n
    synthetic_only -= real_plans
    return [
        PlanCounts(plan, {s: counts[plan.pk].get(s, 0) for s in STATUS_VALUES})
        for plan in plans
        if plan.pk not in synthetic_only
    ]


def backlog_totals(plan_counts: list[PlanCounts]) -> list[dict[str, Any]]:
    """Items by status over every plan, for the counters strip."""
    return [
        {"status": value, "label": str(label), "count": sum(pc.counts[value] for pc in plan_counts)}
        for value, label in BacklogStatus.choices
    ]


def phase_status(counts: Mapping[str, int]) -> str:
    """A phase's overall state, read from its items' counts by status."""
    total = sum(counts.values())
    if total == 0:
        return "not started"
    for status in ("failed", "blocked", "in_progress"):
        if counts.get(status):
            return status
    if counts.get("complete") == total:
        return "complete"
    return "pending"


@dataclass
class PhaseView:
    phase: str
    label: str
    counts: dict[str, int]
    checkpoints: list[PhaseCheckpoint]
    items: Sequence[BacklogItem]
    more_items: int
    transcripts: list[PhaseTranscript]

    @property
    def status(self) -> str:
        return phase_status(self.counts)


def plan_phase_labels(plan: Plan) -> list[tuple[str, str]]:
    """``(key, label)`` of each phase of the plan's pipeline, in order."""
    if plan.pipeline not in pipelines:
        return []
    return [(spec.key, spec.title) for spec in pipelines.get(plan.pipeline).phases]


def plan_progress(plan: Plan) -> dict[str, dict[str, int]]:
    """Counts by phase and status for one plan; one query."""
    counts: dict[str, dict[str, int]] = {key: {} for key, _ in plan_phase_labels(plan)}
    rows = (
        BacklogItem.objects.filter(plan=plan, synthetic=False)
        .values("phase", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts.setdefault(row["phase"], {})[row["status"]] = row["n"]
    return counts


def plan_is_running(progress: Mapping[str, Mapping[str, int]]) -> bool:
    return any(c.get(BacklogStatus.IN_PROGRESS) for c in progress.values())


def _first_items_per_phase(plan: Plan) -> list[BacklogItem]:
    """The first ``ITEMS_PER_PHASE`` items of each phase with their latest transitions and
    their transcripts' numbers (three queries)."""
    return list(
        BacklogItem.objects.filter(plan=plan, synthetic=False)
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("phase")], order_by=[F("position"), F("id")])
        )
        .filter(rank__lte=ITEMS_PER_PHASE)
        .prefetch_related(
            Prefetch(
                "transitions",
                queryset=BacklogTransition.objects.order_by("-created_at", "-id")[
                    :TRANSITIONS_PER_ITEM
                ],
                to_attr="latest_transitions",
            ),
            Prefetch(
                "transcripts",
                queryset=PhaseTranscript.objects.only("id", "backlog_item_id", "attempt").order_by(
                    "attempt"
                ),
                to_attr="transcript_refs",
            ),
        )
        .order_by("position", "id")
    )


def _latest_transcripts_per_phase(plan: Plan) -> list[PhaseTranscript]:
    """The newest ``TRANSCRIPTS_PER_PHASE`` transcripts of each phase (one query)."""
    newest_first = [F("created_at").desc(), F("id").desc()]
    return list(
        PhaseTranscript.objects.filter(plan=plan)
        .annotate(rank=Window(RowNumber(), partition_by=[F("phase")], order_by=newest_first))
        .filter(rank__lte=TRANSCRIPTS_PER_PHASE)
        .select_related("backlog_item", "execution")
        .order_by("-created_at", "-id")
    )


def plan_phases(plan: Plan) -> list[PhaseView]:
    """The plan page: phases with checkpoints, items (and their latest transitions) and
    transcripts. A fixed number of queries; long lists are cut and say how much is hidden."""
    counts = plan_progress(plan)
    checkpoints = list(PhaseCheckpoint.objects.filter(plan=plan).order_by("id"))
    items = _first_items_per_phase(plan)
    transcripts = _latest_transcripts_per_phase(plan)
    labels = dict(plan_phase_labels(plan))
    # Phases the pipeline no longer declares still show what their items did.
    labels.update({key: key for key in counts if key not in labels})
    views = []
    for phase, label in labels.items():
        phase_items = [i for i in items if i.phase == phase]
        total = sum(counts.get(phase, {}).values())
        views.append(
            PhaseView(
                phase=phase,
                label=str(label),
                counts=counts.get(phase, {}),
                checkpoints=[c for c in checkpoints if c.phase == phase],
                items=phase_items,
                more_items=max(0, total - len(phase_items)),
                transcripts=[t for t in transcripts if t.phase == phase],
            )
        )
    return views
