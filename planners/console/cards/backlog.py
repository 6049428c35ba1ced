"""The backlog card: one page of real items, filtered by a form, what needs a person first,
each with its Resume state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Case, Q, QuerySet, Value, When
from django.utils.functional import cached_property

from planners.actions import can_resume, stale_cutoff
from planners.console.cards.plans import PlanCounts
from planners.models import BacklogItem, BacklogStatus
from planners.pipeline.registry import pipelines

SEARCH_CHARS = 200


@dataclass(frozen=True)
class BacklogFilters:
    plan_id: int | None = None
    status: str = ""
    phase: str = ""
    q: str = ""
    page: int = 1

    def as_query(self, *, page: int | None = None) -> dict[str, str]:
        values = {
            "plan": str(self.plan_id) if self.plan_id else "",
            "status": self.status,
            "phase": self.phase,
            "q": self.q,
            "page": str(page) if page and page > 1 else "",
        }
        return {k: v for k, v in values.items() if v}


class BacklogFilterForm(forms.Form):
    """``?plan=&status=&phase=&q=&page=``: the choices come from the plans, the statuses and
    the registered pipelines' phases; a value that is not one of them is ignored."""

    plan = forms.TypedChoiceField(label="Plan", required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(label="Status", required=False)
    phase = forms.ChoiceField(label="Phase", required=False)
    q = forms.CharField(
        label="Search",
        required=False,
        widget=forms.SearchInput(attrs={"placeholder": "backlog id or description"}),
    )
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, data: Any, *, plan_counts: Sequence[PlanCounts]) -> None:
        super().__init__(data, auto_id="backlog-%s", label_suffix="")
        plans = [(pc.plan.pk, f"{pc.plan.project_title} · {pc.plan.branch}") for pc in plan_counts]
        self.fields["plan"].choices = [("", "All plans"), *plans]  # type: ignore[attr-defined]
        self.fields["status"].choices = [("", "Any"), *BacklogStatus.choices]  # type: ignore[attr-defined]
        self.fields["phase"].choices = [("", "Any"), *pipelines.phase_labels()]  # type: ignore[attr-defined]

    def clean_q(self) -> str:
        return str(self.cleaned_data["q"])[:SEARCH_CHARS]

    @cached_property
    def filters(self) -> BacklogFilters:
        self.is_valid()  # an invalid field drops out of cleaned_data; the others still filter
        data = self.cleaned_data
        return BacklogFilters(
            plan_id=data.get("plan"),
            status=data.get("status", ""),
            phase=data.get("phase", ""),
            q=data.get("q", ""),
            page=data.get("page") or 1,
        )


@dataclass
class BacklogRow:
    item: BacklogItem
    can_resume: bool
    resume_reason: str


def _filtered_items(filters: BacklogFilters) -> QuerySet[BacklogItem]:
    queryset = BacklogItem.objects.filter(synthetic=False).select_related("plan")
    if filters.plan_id:
        queryset = queryset.filter(plan_id=filters.plan_id)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.phase:
        queryset = queryset.filter(phase=filters.phase)
    if filters.q:
        queryset = queryset.filter(
            Q(backlog_id__icontains=filters.q) | Q(description__icontains=filters.q)
        )
    return queryset


#: The table's order, in three parts: what needs a person (few rows, ranked by
#: ``_needs_a_person_first``), then pending items, then the rest, each in plan order. Read part
#: by part, a page never sorts the whole table (a sort of every item cost more than the card's
#: whole budget at 100,000 items).
NEEDS_A_PERSON = (BacklogStatus.FAILED, BacklogStatus.BLOCKED, BacklogStatus.IN_PROGRESS)
PLAN_ORDER = ("plan_id", "position", "id")


class NeedsAPersonFirst:
    """The filtered items in the table's order, as the paginator slices them. Every part is read
    once per page, a page's worth at most (from where the page would start in it), and only what
    falls on the page is kept: a page always costs the same statements, however the items
    divide between the parts."""

    def __init__(self, items: QuerySet[BacklogItem], part_sizes: list[int] | None) -> None:
        self.parts = [
            items.filter(status__in=NEEDS_A_PERSON).order_by(_needs_a_person_first(), *PLAN_ORDER),
            items.filter(status=BacklogStatus.PENDING).order_by(*PLAN_ORDER),
            items.exclude(status__in=(*NEEDS_A_PERSON, BacklogStatus.PENDING)).order_by(
                *PLAN_ORDER
            ),
        ]
        self._sizes = part_sizes

    @cached_property
    def sizes(self) -> list[int]:
        """How many items each part holds: given by the per-plan counts when they can say,
        else counted."""
        return self._sizes if self._sizes is not None else [part.count() for part in self.parts]

    def count(self) -> int:
        return sum(self.sizes)

    def __getitem__(self, window: slice) -> list[BacklogItem]:
        start, stop = window.start or 0, window.stop
        rows: list[BacklogItem] = []
        offset = 0
        for part, size in zip(self.parts, self.sizes, strict=True):
            first = max(start - offset, 0)
            read = list(part[first : first + stop - start])
            rows.extend(read[: max(min(stop - offset, size) - first, 0)])
            offset += size
        return rows


def known_part_sizes(filters: BacklogFilters, plan_counts: list[PlanCounts]) -> list[int] | None:
    """The size of each part of ``NeedsAPersonFirst`` when the per-plan counts already say it
    (filters by plan and status only); None when it takes a count (phase or text search)."""
    if filters.phase or filters.q:
        return None
    sizes = [0, 0, 0]
    for plan_count in plan_counts:
        if filters.plan_id and plan_count.plan.pk != filters.plan_id:
            continue
        for status, count in plan_count.counts.items():
            if filters.status and status != filters.status:
                continue
            part = 0 if status in NEEDS_A_PERSON else 1 if status == BacklogStatus.PENDING else 2
            sizes[part] += count
    return sizes


def _needs_a_person_first() -> Case:
    """Failed, blocked, stale and in-progress items, in that order."""
    cutoff = stale_cutoff()
    running = Q(status=BacklogStatus.IN_PROGRESS)
    quiet = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, in_progress_at__lt=cutoff)
    return Case(
        When(status=BacklogStatus.FAILED, then=Value(0)),
        When(status=BacklogStatus.BLOCKED, then=Value(1)),
        When(running & quiet, then=Value(2)),
        default=Value(3),
    )


def backlog_page(
    filters: BacklogFilters, *, plan_counts: list[PlanCounts] | None = None
) -> tuple[Page[BacklogItem], list[BacklogRow]]:
    """One page of the backlog table: a query per part of the table's order, plus, when
    ``plan_counts`` (read for the same request) cannot give the parts' sizes, a count each."""
    known = known_part_sizes(filters, plan_counts) if plan_counts is not None else None
    items = NeedsAPersonFirst(_filtered_items(filters), known)
    paginator: Paginator[BacklogItem] = Paginator(items, settings.CONSOLE_PAGE_SIZE)  # type: ignore[arg-type]
    page = paginator.get_page(filters.page)
    rows = []
    for item in page.object_list:
        allowed, reason = resume_state(item)
        rows.append(BacklogRow(item, allowed, reason))
    return page, rows


def resume_state(item: BacklogItem) -> tuple[bool, str]:
    """Whether the Resume button is enabled for ``item`` and, when not, why (no query).

    The reason names the item and plan for use elsewhere; in a row that already shows both,
    that prefix is noise, so it is cut ("Already complete; there is nothing to resume.")."""
    allowed, reason = can_resume(item)
    prefix = f"Backlog item {item.backlog_id!r} of plan {item.plan_id} is "
    if reason.startswith(prefix):
        rest = reason[len(prefix) :]
        reason = rest[:1].upper() + rest[1:]
    return allowed, reason
