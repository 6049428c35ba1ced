"""The backlog section: counts, per-plan summary, stale, flapping and history (contract drift and
what each pipeline reports of its own records are in ``planners.health.findings``).

Every function runs a fixed number of queries: aggregates and group-bys in the database,
lists bounded with LIMIT and their full size read with ``COUNT(*) OVER ()`` in the same query.
Synthetic items (made by a synthetic alert) never count as real work; they only feed their own
stale list so that their alert can fire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Window,
)
from django.db.models.functions import RowNumber

from planners.health.report import (
    ActionLogLine,
    BacklogItemRef,
    FlappingItem,
    PlanSummary,
    TransitionEntry,
)
from planners.models import (
    ActionLogEntry,
    BacklogItem,
    BacklogStatus,
    BacklogTransition,
    Plan,
)
from planners.pipeline.registry import pipelines

# How many rows each list of the report carries at most; the totals are always exact.
PLAN_LIMIT = 50
ITEM_LIMIT = 20
FLAPPING_LIMIT = 50
LORE_LIMIT = 200
TRANSITION_LIMIT = 20
ACTION_LOG_LIMIT = 20


def planner_slug_for_phase(phase: str) -> str:
    """The slug of the planner that runs ``phase`` (the phase itself when no pipeline has it)."""
    return pipelines.planner_by_phase().get(phase, phase)


def _items(plan_id: int | None) -> QuerySet[BacklogItem]:
    items = BacklogItem.objects.all()
    return items if plan_id is None else items.filter(plan_id=plan_id)


def stale_filter(cutoff: datetime) -> Q:
    """In progress since before ``cutoff`` (items without a start time fall back to their last
    update, so a row written by hand or by an old version still counts)."""
    return Q(status=BacklogStatus.IN_PROGRESS) & (
        Q(in_progress_at__lt=cutoff) | Q(in_progress_at__isnull=True, updated_at__lt=cutoff)
    )


@dataclass(frozen=True)
class BacklogCounts:
    counts: dict[str, int]
    total: int
    synthetic_total: int


def backlog_counts(*, plan_id: int | None) -> BacklogCounts:
    """Real items per status and the synthetic total, summed from one count per (plan, status,
    synthetic): the (plan, status, synthetic) index answers it in its own order without reading
    the table, twice as fast as counting per (status, synthetic), which must hash every row."""
    counts = dict.fromkeys(BacklogStatus.values, 0)
    synthetic_total = 0
    rows = (
        _items(plan_id)
        .values("plan_id", "status", "synthetic")
        .annotate(n=Count("*"))
        .order_by()
        .values("status", "synthetic", "n")
    )
    for row in rows:
        if row["synthetic"]:
            synthetic_total += row["n"]
        elif row["status"] in counts:
            counts[row["status"]] += row["n"]
    return BacklogCounts(counts=counts, total=sum(counts.values()), synthetic_total=synthetic_total)


def plan_summaries(*, plan_id: int | None) -> tuple[int, tuple[PlanSummary, ...]]:
    """The most recently updated plans with their real item counts, and how many plans there
    are in all (two queries).

    The page of plans is chosen first (no join), then the items of just those plans are counted
    on the (plan, status) index; one joined GROUP BY would group every backlog row.
    """
    items = BacklogItem.objects.filter(plan_id=OuterRef("pk"))
    plans = Plan.objects.all() if plan_id is None else Plan.objects.filter(pk=plan_id)
    page = list(
        # A plan holding only synthetic entries (ops alerting's drill plan) is not real work.
        plans.exclude(~Exists(items.filter(synthetic=False)) & Exists(items.filter(synthetic=True)))
        .annotate(
            plans_total=Window(expression=Count("id")),
        )
        .order_by("-updated_at", "-id")
        .values("id", "name", "branch", "pipeline", "status", "plans_total")[:PLAN_LIMIT]
    )
    real = Q(synthetic=False)
    counted = {
        row["plan_id"]: row
        for row in BacklogItem.objects.filter(real, plan_id__in=[p["id"] for p in page])
        .values("plan_id")
        .annotate(
            items_total=Count("id"),
            last_activity_at=Max("updated_at"),
            **{
                f"status_{status}": Count("id", filter=Q(status=status))
                for status in BacklogStatus.values
            },
        )
        .order_by()
    }
    summaries = []
    for plan in page:
        row = counted.get(plan["id"], {})
        summaries.append(
            PlanSummary(
                id=plan["id"],
                name=plan["name"],
                branch=plan["branch"],
                status=plan["status"],
                pipeline=plan["pipeline"],
                items_total=row.get("items_total", 0),
                counts={s: row.get(f"status_{s}", 0) for s in BacklogStatus.values},
                last_activity_at=row.get("last_activity_at"),
            )
        )
    return (page[0]["plans_total"] if page else 0), tuple(summaries)


_ITEM_FIELDS = ("id", "plan_id", "plan__name", "backlog_id", "phase", "status", "in_progress_at")


def _item_ref(row: Mapping[str, Any], now: datetime, *, synthetic: bool) -> BacklogItemRef:
    started = row["in_progress_at"]
    return BacklogItemRef(
        id=row["id"],
        plan_id=row["plan_id"],
        plan_name=row["plan__name"] or "",
        backlog_id=row["backlog_id"],
        phase=row["phase"],
        status=row["status"],
        age_seconds=round((now - started).total_seconds(), 3) if started else None,
        in_progress_at=started,
        synthetic=synthetic,
    )


@dataclass(frozen=True)
class StaleItems:
    real: tuple[BacklogItemRef, ...]
    synthetic: tuple[BacklogItemRef, ...]
    real_total: int


def stale_items(*, plan_id: int | None, cutoff: datetime, now: datetime) -> StaleItems:
    """The oldest stale items, real and synthetic, ``ITEM_LIMIT`` of each, and how many real
    ones there are (one query: each kind numbered oldest first and counted, the first of each
    kept). Stale rows are found on the (status, started) index; the rest are not read."""
    oldest_first = [F("in_progress_at").asc(nulls_first=True), F("id").asc()]
    rows = (
        _items(plan_id)
        .filter(stale_filter(cutoff))
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("synthetic")], order_by=oldest_first),
            kind_total=Window(Count("*"), partition_by=[F("synthetic")]),
        )
        .filter(rank__lte=ITEM_LIMIT)
        .order_by(*oldest_first)
        .values(*_ITEM_FIELDS, "synthetic", "kind_total")
    )
    real: list[BacklogItemRef] = []
    synthetic: list[BacklogItemRef] = []
    real_total = 0
    for row in rows:
        if row["synthetic"]:
            synthetic.append(_item_ref(row, now, synthetic=True))
        else:
            real.append(_item_ref(row, now, synthetic=False))
            real_total = row["kind_total"]
    return StaleItems(tuple(real), tuple(synthetic), real_total)


def flapping_items(
    *, plan_id: int | None, since: datetime, threshold: int
) -> tuple[FlappingItem, ...]:
    """Items sent back to pending at least ``threshold`` times since ``since`` (one query).
    A transition with an empty ``from_status`` is the item's creation, not a return."""
    transitions = BacklogTransition.objects.filter(
        to_status=BacklogStatus.PENDING, created_at__gte=since, item__synthetic=False
    ).exclude(from_status="")
    if plan_id is not None:
        transitions = transitions.filter(plan_id=plan_id)
    rows = (
        transitions.values("item_id", "plan_id", "item__backlog_id")
        .annotate(returns=Count("id"), last_at=Max("created_at"))
        .filter(returns__gte=threshold)
        .order_by("-returns", "item_id")[:FLAPPING_LIMIT]
    )
    return tuple(
        FlappingItem(
            item_id=row["item_id"],
            plan_id=row["plan_id"],
            backlog_id=row["item__backlog_id"],
            returns_to_pending=row["returns"],
            last_at=row["last_at"],
        )
        for row in rows
    )


#: What a transition entry reads of each row (``transition_entry`` turns it into one).
TRANSITION_FIELDS = (
    "created_at",
    "plan_id",
    "plan__name",
    "item_id",
    "item__backlog_id",
    "from_status",
    "to_status",
    "reason",
    "actor",
)


def transition_entry(row: dict[str, Any]) -> TransitionEntry:
    return TransitionEntry(
        at=row["created_at"],
        plan_id=row["plan_id"],
        backlog_id=row["item__backlog_id"],
        from_status=row["from_status"],
        to_status=row["to_status"],
        reason=row["reason"],
        actor=row["actor"],
        item_id=row["item_id"],
        plan_name=row["plan__name"] or "",
    )


def recent_transitions(
    *, plan_id: int | None, limit: int = TRANSITION_LIMIT
) -> tuple[TransitionEntry, ...]:
    """The latest status changes of real items, newest first (one query)."""
    transitions = BacklogTransition.objects.filter(item__synthetic=False)
    if plan_id is not None:
        transitions = transitions.filter(plan_id=plan_id)
    rows = transitions.order_by("-created_at", "-id").values(*TRANSITION_FIELDS)[:limit]
    return tuple(transition_entry(row) for row in rows)


#: What an action log line reads of each row (``action_log_line`` turns it into one).
ACTION_LOG_FIELDS = ("created_at", "action", "actor", "target", "target_url", "environment")


def action_log_line(row: dict[str, Any]) -> ActionLogLine:
    return ActionLogLine(
        at=row["created_at"],
        action=row["action"],
        actor=row["actor"],
        target=row["target"],
        target_url=row["target_url"],
        environment=row["environment"],
    )


def action_log(*, limit: int = ACTION_LOG_LIMIT) -> tuple[ActionLogLine, ...]:
    """The latest operator and system actions, newest first (one query)."""
    rows = ActionLogEntry.objects.order_by("-created_at", "-id").values(*ACTION_LOG_FIELDS)
    return tuple(action_log_line(row) for row in rows[:limit])


def window_start(now: datetime, seconds: int) -> datetime:
    return now - timedelta(seconds=seconds)
