"""Read-only queries behind the console's cards.

Each function issues a fixed number of queries, whatever the size of the backlog, so the
dashboard's cost does not grow with the data (the tests pin the counts at 10 and 1,000 items).
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Count, F, Prefetch, Q, QuerySet, Subquery, Sum, Window
from django.db.models.functions import Coalesce, RowNumber, TruncHour
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.functional import cached_property

from cognition.models import PromptTemplate
from opsalerts.models import Alert, Severity, Silence
from planners.actions import can_resume
from planners.framework.catalog import catalog
from planners.health import backlog as health_backlog
from planners.health import orphans as health_orphans
from planners.health.report import BacklogItemRef, PlannerHealthReport
from planners.models import (
    ActionLogEntry,
    BacklogItem,
    BacklogStatus,
    BacklogTransition,
    PhaseCheckpoint,
    PhaseTranscript,
    Plan,
    PlannerExecution,
    PlannerOutcome,
)
from planners.pipeline.registry import pipelines

logger = logging.getLogger(__name__)

ALERT_STATES = ("firing", "acknowledged", "resolved", "silenced")
STATE_ORDER = {"firing": 0, "acknowledged": 1, "silenced": 2, "resolved": 3}
FAILED_OUTCOMES = (
    PlannerOutcome.FAILED,
    PlannerOutcome.BLOCKED,
    PlannerOutcome.THROTTLED,
    PlannerOutcome.REJECTED,
)
ALERTS_SHOWN = 200
RECENT_ROWS = 15


def admin_url(name: str, *args: Any, query: str = "") -> str:
    """An admin URL, or "" when that model is not registered (another area may not be ready)."""
    try:
        url = reverse(f"admin:{name}", args=args)
    except NoReverseMatch:
        return ""
    return f"{url}?{query}" if query else url


# --- Alerts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertFilters:
    severity: str = ""
    state: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> AlertFilters:
        severity = params.get("severity", "")
        state = params.get("state", "")
        return cls(
            severity=severity if severity in Severity.values else "",
            state=state if state in ALERT_STATES else "",
        )

    def as_query(self) -> dict[str, str]:
        return {k: v for k, v in (("severity", self.severity), ("state", self.state)) if v}


@dataclass(frozen=True)
class AlertLink:
    label: str
    url: str


@dataclass
class AlertRow:
    alert: Alert
    silenced_until: datetime | None
    links: list[AlertLink]

    @property
    def state(self) -> str:
        """What an operator needs to know first: silenced wins over firing/acknowledged."""
        if self.silenced_until and self.alert.status != Alert.Status.RESOLVED:
            return "silenced"
        return self.alert.status


@dataclass
class AlertListing:
    rows: list[AlertRow]
    counts: dict[str, int]
    filters: AlertFilters


def _alert_links(alert: Alert) -> list[AlertLink]:
    links: list[AlertLink] = []
    if alert.plan_id:
        links.append(
            AlertLink(f"Plan #{alert.plan_id}", reverse("console:plan", args=[alert.plan_id]))
        )
    if alert.backlog_id:
        query = f"q={alert.backlog_id}" + (f"&plan={alert.plan_id}" if alert.plan_id else "")
        links.append(
            AlertLink(
                f"Backlog {alert.backlog_id}",
                f"{reverse('console:dashboard')}?{query}#card-backlog",
            )
        )
    if alert.planner_slug:
        url = admin_url(
            "planners_plannerexecution_changelist", query=f"planner_slug={alert.planner_slug}"
        )
        links.append(AlertLink(f"Planner {alert.planner_slug}", url or "#card-planners"))
    if alert.template_id:
        url = admin_url("cognition_prompttemplate_changelist", query=f"q={alert.template_id}")
        if url:
            links.append(AlertLink(f"Template {alert.template_id}", url))
    return links


def active_silences(now: datetime) -> list[Silence]:
    return list(Silence.objects.filter(starts_at__lte=now, ends_at__gt=now))


def silenced_until(alert_id: str, silences: list[Silence]) -> datetime | None:
    ends = [s.ends_at for s in silences if s.matches(alert_id)]
    return max(ends) if ends else None


def alert_listing(filters: AlertFilters, *, now: datetime | None = None) -> AlertListing:
    """Alerts (most recent first) with their silence state; two queries."""
    now = now or timezone.now()
    silences = active_silences(now)
    queryset = Alert.objects.order_by("-last_seen", "-id")
    if filters.severity:
        queryset = queryset.filter(severity=filters.severity)
    rows = [
        AlertRow(alert, silenced_until(alert.alert_id, silences), _alert_links(alert))
        for alert in queryset[:ALERTS_SHOWN]
    ]
    # What needs a person first: firing, then acknowledged, silenced, resolved (stable sort, so
    # each group stays most recently seen first).
    rows.sort(key=lambda row: STATE_ORDER[row.state])
    counts = Counter(row.state for row in rows)
    if filters.state:
        rows = [row for row in rows if row.state == filters.state]
    return AlertListing(
        rows=rows, counts={state: counts.get(state, 0) for state in ALERT_STATES}, filters=filters
    )


def firing_alert_count() -> int:
    return Alert.objects.filter(status=Alert.Status.FIRING).count()


# --- Backlog ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BacklogFilters:
    plan_id: int | None = None
    status: str = ""
    phase: str = ""
    q: str = ""
    page: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> BacklogFilters:
        plan = params.get("plan", "")
        page = params.get("page", "1")
        status = params.get("status", "")
        phase = params.get("phase", "")
        return cls(
            plan_id=int(plan) if plan.isdigit() else None,
            status=status if status in BacklogStatus.values else "",
            phase=phase if phase in dict(pipelines.phase_labels()) else "",
            q=params.get("q", "").strip()[:200],
            page=int(page) if page.isdigit() and int(page) > 0 else 1,
        )

    def as_query(self, *, page: int | None = None) -> dict[str, str]:
        values = {
            "plan": str(self.plan_id) if self.plan_id else "",
            "status": self.status,
            "phase": self.phase,
            "q": self.q,
            "page": str(page) if page and page > 1 else "",
        }
        return {k: v for k, v in values.items() if v}


STATUS_VALUES: tuple[str, ...] = tuple(BacklogStatus.values)


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


@dataclass
class BacklogRow:
    item: BacklogItem
    can_resume: bool
    resume_reason: str
    resume_url: str
    plan_url: str


# A pk no row has: each per-row URL is reversed once per page and the pk put in per row.
_PK_PLACEHOLDER = 9876543210


def url_for_pk(name: str) -> Callable[[int], str]:
    """``reverse(name, args=[pk])`` for many pks at the cost of one reversal (URL patterns of
    the console take any integer pk)."""
    pattern = reverse(name, args=[_PK_PLACEHOLDER])
    return lambda pk: pattern.replace(str(_PK_PLACEHOLDER), str(int(pk)))


class _CountedPaginator(Paginator):
    """A paginator told its total up front, so it does not count the rows again."""

    def __init__(self, object_list: QuerySet[BacklogItem], per_page: int, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count


def known_backlog_total(filters: BacklogFilters, plan_counts: list[PlanCounts]) -> int | None:
    """The number of real items matching ``filters`` when the per-plan counts already say it
    (filters by plan and status only); None when it takes a count (phase or text search)."""
    if filters.phase or filters.q:
        return None
    return sum(
        count
        for plan_count in plan_counts
        if not filters.plan_id or plan_count.plan.pk == filters.plan_id
        for status, count in plan_count.counts.items()
        if not filters.status or status == filters.status
    )


def backlog_page(
    filters: BacklogFilters, *, plan_counts: list[PlanCounts] | None = None
) -> tuple[Page[BacklogItem], list[BacklogRow]]:
    """One page of the backlog table: one query when ``plan_counts`` (read for the same
    request) already give the total, else two (count and page)."""
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
    queryset = queryset.order_by("plan_id", "position", "id")
    known = known_backlog_total(filters, plan_counts) if plan_counts is not None else None
    paginator = (
        Paginator(queryset, settings.CONSOLE_PAGE_SIZE)
        if known is None
        else _CountedPaginator(queryset, settings.CONSOLE_PAGE_SIZE, known)
    )
    page = paginator.get_page(filters.page)
    resume_url, plan_url = url_for_pk("console:resume"), url_for_pk("console:plan")
    rows = []
    for item in page.object_list:
        allowed, reason = resume_state(item)
        rows.append(BacklogRow(item, allowed, reason, resume_url(item.pk), plan_url(item.plan_id)))
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


@dataclass
class StaleAndOrphaned:
    stale: tuple[BacklogItemRef, ...]
    stale_total: int
    orphaned: tuple[BacklogItemRef, ...]
    orphaned_total: int


def stale_and_orphaned(
    now: datetime | None = None, *, report: PlannerHealthReport | None = None
) -> StaleAndOrphaned:
    """The health report's definitions of stale and orphaned items, so this card always agrees
    with the ``backlog:stale`` and ``backlog:orphaned`` alerts. A page that already built the
    report passes it and this costs nothing; alone it is two queries."""
    if report is not None:
        backlog = report.backlog
        return StaleAndOrphaned(
            backlog.stale[:RECENT_ROWS],
            backlog.stale_total,
            backlog.orphaned[:RECENT_ROWS],
            backlog.orphaned_total,
        )
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.HEALTH_STALE_BACKLOG_SECONDS)
    stale = health_backlog.stale_items(plan_id=None, cutoff=cutoff, now=now)
    orphaned_total, orphaned = health_orphans.orphaned_items(plan_id=None, limit=RECENT_ROWS)
    return StaleAndOrphaned(stale.real[:RECENT_ROWS], stale.real_total, orphaned, orphaned_total)


def recent_transitions(limit: int = RECENT_ROWS) -> list[BacklogTransition]:
    return list(
        BacklogTransition.objects.select_related("item", "plan").order_by("-created_at", "-id")[
            :limit
        ]
    )


def recent_actions(limit: int = RECENT_ROWS) -> list[ActionLogEntry]:
    return list(ActionLogEntry.objects.order_by("-created_at", "-id")[:limit])


# --- Planners & templates ---------------------------------------------------------------------


@dataclass
class StepRow:
    step_id: str
    display_name: str
    template_id: str
    template_found: bool
    template_active: bool
    active_version: int | None
    admin_url: str

    @property
    def uses_fallback(self) -> bool:
        return not (self.template_found and self.template_active and self.active_version)


@dataclass
class PlannerRow:
    name: str
    slug: str
    steps: list[StepRow]
    last_run: PlannerExecution | None
    execution_url: str

    @property
    def fallback_in_use(self) -> bool:
        recent_fallback = bool(self.last_run and self.last_run.used_fallback)
        return recent_fallback or any(step.uses_fallback for step in self.steps)


def _catalog_planners() -> list[Any]:
    return list(catalog.all())


def planner_rows() -> list[PlannerRow]:
    """Each registered planner, its steps' template state and its last run; three queries."""
    planners = _catalog_planners()
    template_ids = {step.template_id for p in planners for step in p.metadata.steps}
    templates = {
        t.name: t
        for t in PromptTemplate.objects.filter(name__in=template_ids).select_related(
            "active_version"
        )
    }
    slugs = [p.metadata.slug for p in planners]
    # Each planner's newest run, one subquery per registered planner (a handful): each reads
    # one entry of the (planner_slug, id) index, where a GROUP BY would read every run.
    runs = PlannerExecution.objects.filter(synthetic=False)
    last_ids = [
        Subquery(runs.filter(planner_slug=slug).order_by("-id").values("id")[:1]) for slug in slugs
    ]
    last_runs = (
        {e.planner_slug: e for e in PlannerExecution.objects.filter(id__in=last_ids)}
        if last_ids
        else {}
    )
    rows = []
    for planner in planners:
        meta = planner.metadata
        steps = []
        for step in meta.steps:
            template = templates.get(step.template_id)
            version = template.active_version if template else None
            steps.append(
                StepRow(
                    step_id=step.id,
                    display_name=step.display_name,
                    template_id=step.template_id,
                    template_found=template is not None,
                    template_active=bool(
                        template and template.is_active and version and version.text.strip()
                    ),
                    active_version=version.number if version else None,
                    admin_url=admin_url("cognition_prompttemplate_change", template.pk)
                    if template
                    else "",
                )
            )
        rows.append(
            PlannerRow(
                name=meta.name,
                slug=meta.slug,
                steps=steps,
                last_run=last_runs.get(meta.slug),
                execution_url=admin_url(
                    "planners_plannerexecution_changelist", query=f"planner_slug={meta.slug}"
                ),
            )
        )
    return rows


# --- Execution telemetry ----------------------------------------------------------------------


@dataclass
class Telemetry:
    window_hours: int
    runs: int
    by_outcome: dict[str, int]
    p50_ms: int | None
    p95_ms: int | None
    prompt_tokens: int
    completion_tokens: int
    critique_tokens: int
    fallback_runs: int
    critique_status: dict[str, int]
    quota_breaches: dict[str, int]
    hourly: list[dict[str, Any]] = field(default_factory=list)


def _percentile(queryset: QuerySet[PlannerExecution], count: int, fraction: float) -> int | None:
    """Nearest-rank percentile computed in the database, so no rows are loaded."""
    if count == 0:
        return None
    index = max(0, min(count - 1, math.ceil(fraction * count) - 1))
    value = queryset.order_by("latency_ms").values_list("latency_ms", flat=True)[index]
    return int(value)


def execution_telemetry(now: datetime | None = None, *, hours: int = 24) -> Telemetry:
    """Runs in the last ``hours`` by outcome, latency percentiles, tokens, critique and quota
    status, and the hourly series for the chart (one aggregate query)."""
    now = now or timezone.now()
    since = now - timedelta(hours=hours)
    window = PlannerExecution.objects.filter(created_at__gte=since, synthetic=False)
    by_outcome = {
        row["outcome"]: row["n"]
        for row in window.values("outcome").annotate(n=Count("id")).order_by()
    }
    runs = sum(by_outcome.values())
    totals = window.aggregate(
        prompt=Coalesce(Sum("prompt_tokens"), 0),
        completion=Coalesce(Sum("completion_tokens"), 0),
        critique=Coalesce(Sum("critique_tokens"), 0),
        fallback=Count("id", filter=Q(used_fallback=True)),
    )
    critique = {
        row["critique_status"]: row["n"]
        for row in window.exclude(critique_status="")
        .values("critique_status")
        .annotate(n=Count("id"))
        .order_by()
    }
    quota = {
        row["quota_limit"]: row["n"]
        for row in window.exclude(quota_limit="")
        .values("quota_limit")
        .annotate(n=Count("id"))
        .order_by()
    }
    hourly = list(
        window.annotate(hour=TruncHour("created_at"))
        .values("hour")
        .annotate(runs=Count("id"), failures=Count("id", filter=Q(outcome__in=FAILED_OUTCOMES)))
        .order_by("hour")
    )
    return Telemetry(
        window_hours=hours,
        runs=runs,
        by_outcome={o: by_outcome.get(o, 0) for o in PlannerOutcome.values},
        p50_ms=_percentile(window, runs, 0.50),
        p95_ms=_percentile(window, runs, 0.95),
        prompt_tokens=totals["prompt"],
        completion_tokens=totals["completion"],
        critique_tokens=totals["critique"],
        fallback_runs=totals["fallback"],
        critique_status=critique,
        quota_breaches=quota,
        hourly=hourly,
    )


@dataclass
class FailureRow:
    execution: PlannerExecution
    transcript: PhaseTranscript | None

    @property
    def snippet(self) -> str:
        if self.transcript is not None:
            text = self.transcript.response or str(self.transcript.validation_details or "")
        else:
            entries = self.execution.transcript or []
            text = (
                str(entries[-1].get("message", ""))
                if entries and isinstance(entries[-1], dict)
                else ""
            )
        text = " ".join(text.split())
        return text[:240] + ("…" if len(text) > 240 else "")


def recent_failures(limit: int = 10) -> list[FailureRow]:
    """The latest runs that did not succeed, each with its last transcript; two queries."""
    executions = list(
        PlannerExecution.objects.filter(outcome__in=FAILED_OUTCOMES, synthetic=False)
        .select_related("plan", "backlog_item")
        .defer("artifacts", "diagnostics")
        .prefetch_related(
            Prefetch(
                "transcripts",
                queryset=PhaseTranscript.objects.order_by("-attempt", "-id").only(
                    "id", "execution_id", "attempt", "response", "validation_details"
                ),
            )
        )
        .order_by("-created_at", "-id")[:limit]
    )
    return [FailureRow(e, next(iter(e.transcripts.all()), None)) for e in executions]


# --- Plans ------------------------------------------------------------------------------------


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
        """A phase's overall state, read from its items."""
        total = sum(self.counts.values())
        if total == 0:
            return "not started"
        for status in ("failed", "blocked", "in_progress"):
            if self.counts.get(status):
                return status
        if self.counts.get("complete") == total:
            return "complete"
        return "pending"


ITEMS_PER_PHASE = 50
TRANSCRIPTS_PER_PHASE = 20
TRANSITIONS_PER_ITEM = 5


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


def plan_phases(plan: Plan) -> list[PhaseView]:
    """The plan page: phases with checkpoints, items (and their latest transitions) and
    transcripts. A fixed number of queries; long lists are cut and say how much is hidden."""
    counts = plan_progress(plan)
    checkpoints = list(PhaseCheckpoint.objects.filter(plan=plan).order_by("id"))
    items = list(
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
    transcripts = list(
        PhaseTranscript.objects.filter(plan=plan)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("phase")],
                order_by=[F("created_at").desc(), F("id").desc()],
            )
        )
        .filter(rank__lte=TRANSCRIPTS_PER_PHASE)
        .select_related("backlog_item", "execution")
        .order_by("-created_at", "-id")
    )
    views = []
    labels = dict(plan_phase_labels(plan))
    # Phases the pipeline no longer declares still show what their items did.
    labels.update({key: key for key in counts if key not in labels})
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


def plan_is_running(progress: Mapping[str, Mapping[str, int]]) -> bool:
    return any(c.get(BacklogStatus.IN_PROGRESS) for c in progress.values())
