"""The console's cards: what each shows (its content function), its place on the dashboard,
and how one request shows it. Pages build a ``PageData`` once and every card reads from it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.paginator import Page
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from opsalerts.acknowledgement import NOTE_MAX_CHARS
from opsalerts.silences import AlertStates, alert_states
from planners.console.cards import action_log as action_log_cards
from planners.console.cards import alerts as alert_cards
from planners.console.cards import backlog as backlog_cards
from planners.console.cards import failures as failure_cards
from planners.console.cards import history, series
from planners.console.cards import planners as planner_cards
from planners.console.cards import stale as stale_cards
from planners.console.cards import telemetry as telemetry_cards
from planners.console.cards import transitions as transition_cards
from planners.console.cards.plans import PlanCounts, plans_with_counts
from planners.health import PlannerHealthReport
from planners.models import BacklogStatus

#: The statuses that put a plan first in the backlog card's per-plan table.
NEEDS_A_PERSON = (BacklogStatus.FAILED, BacklogStatus.BLOCKED, BacklogStatus.IN_PROGRESS)

SILENCE_CHOICES = [(15, "15 minutes"), (60, "1 hour"), (240, "4 hours"), (1440, "24 hours")]

# --- Cards ------------------------------------------------------------------------------------


@dataclass
class PageData:
    """What several cards of one page read, built once per request: the health report (the
    dashboard's banner needs it anyway), every plan's counts (the counters strip's) and the
    alerts by state (the nav badge's)."""

    report: PlannerHealthReport | None = None
    plan_counts: list[PlanCounts] | None = None
    alert_states: AlertStates | None = None
    resolved_counted: bool = False

    def counts(self) -> list[PlanCounts]:
        if self.plan_counts is None:
            self.plan_counts = plans_with_counts()
        return self.plan_counts

    def states(self, *, count_resolved: bool = False) -> AlertStates:
        """Alerts by state, read once for the badge, the tiles and the alerts card."""
        if self.alert_states is None:
            self.alert_states = alert_states(count_resolved=count_resolved)
        elif count_resolved and not self.resolved_counted:
            self.alert_states = self.alert_states.with_resolved_count()
        self.resolved_counted = self.resolved_counted or count_resolved
        return self.alert_states


@dataclass
class CardContent:
    context: dict[str, Any]
    query: str = ""  # the card's filters, which its refresh links carry


@dataclass(frozen=True)
class Card:
    slug: str
    title: str
    column: str
    content: Callable[[HttpRequest, PageData], CardContent]

    @property
    def template(self) -> str:
        return f"console/cards/{self.slug.replace('-', '_')}.html"


@dataclass(frozen=True)
class ShownCard:
    """A card as one request shows it: where its refresh links lead."""

    card: Card
    query: str

    @property
    def slug(self) -> str:
        return self.card.slug

    @property
    def title(self) -> str:
        return self.card.title

    @property
    def template(self) -> str:
        return self.card.template

    @property
    def column(self) -> str:
        return self.card.column

    @property
    def refresh_url(self) -> str:
        url = reverse("console:card", args=[self.card.slug])
        return f"{url}?{self.query}" if self.query else url


def _alerts_chrome(request: HttpRequest, form: alert_cards.AlertFilterForm) -> dict[str, Any]:
    """What the alerts card needs besides rows: its filter form, where its links lead (the page
    the card sits on), where HTMX fetches it, and the choices of its silence form.

    On the alerts page the card's filters and pages go into the address bar (``hx-push-url``),
    so a link to what an operator sees can be shared; on the dashboard they stay in the card."""
    current = request.headers.get("HX-Current-URL", "") or request.path
    on_alerts_page = urlsplit(current).path.startswith(reverse("console:alerts"))
    if request.method == "POST":
        on_alerts_page = request.POST.get("next", "").startswith(reverse("console:alerts"))
    return {
        "alerts_form": form,
        "alerts_base_url": reverse("console:alerts" if on_alerts_page else "console:dashboard"),
        "alerts_fragment_url": reverse("console:alerts")
        if on_alerts_page
        else reverse("console:card", args=["alerts"]),
        "alerts_push": on_alerts_page,
        "silence_choices": SILENCE_CHOICES,
        "ack_note_max_chars": NOTE_MAX_CHARS,
    }


def _alerts_card(request: HttpRequest, page: PageData) -> CardContent:
    params = request.POST if request.method == "POST" else request.GET
    form = alert_cards.AlertFilterForm(params)
    filters = form.filters
    listing = alert_cards.alert_listing(filters, states=page.states(count_resolved=True))
    context = {"alerts": listing, **_alerts_chrome(request, form)}
    context["alerts_pages"] = _pager_queries(filters.as_query, listing.page)
    return CardContent(context, urlencode(filters.as_query(page=filters.page)))


def _pager_queries(as_query: Callable[..., dict[str, str]], shown: Page[Any]) -> dict[str, Any]:
    """The queries of the previous and next pages (None when there is none)."""
    return {
        "prev": urlencode(as_query(page=shown.number - 1)) if shown.has_previous() else None,
        "next": urlencode(as_query(page=shown.number + 1)) if shown.has_next() else None,
    }


def _plans_shown(
    plan_counts: list[PlanCounts], filters: backlog_cards.BacklogFilters, *, show_all: bool
) -> dict[str, Any]:
    """The per-plan counts table: the plans with items that need a person first, one page of
    them unless all were asked for (hundreds of plans are a list to search, not to read)."""
    ranked = sorted(plan_counts, key=lambda pc: -sum(pc.counts.get(s, 0) for s in NEEDS_A_PERSON))
    shown = ranked if show_all else ranked[: settings.CONSOLE_PAGE_SIZE]
    selected = next((pc for pc in ranked if pc.plan.pk == filters.plan_id), None)
    if selected is not None and selected not in shown:
        shown = [selected, *shown]
    return {"plan_counts": shown, "plans_hidden": len(plan_counts) - len(shown)}


def _backlog_card(request: HttpRequest, page: PageData) -> CardContent:
    params = request.POST if request.method == "POST" else request.GET
    plan_counts = page.counts()
    form = backlog_cards.BacklogFilterForm(params, plan_counts=plan_counts)
    filters = form.filters
    backlog_page, rows = backlog_cards.backlog_page(filters, plan_counts=plan_counts)
    query = urlencode(filters.as_query(page=filters.page))
    context = {
        "backlog_form": form,
        "backlog_filters": filters,
        "backlog_query": query,
        # Where each row's Resume form comes back to, and the filters it carries along.
        "backlog_back_url": f"{reverse('console:dashboard')}{'?' if query else ''}{query}"
        "#card-backlog",
        "backlog_hidden": list(filters.as_query(page=filters.page).items()),
        **_plans_shown(plan_counts, filters, show_all=params.get("plans") == "all"),
        "backlog_page": backlog_page,
        "backlog_rows": rows,
        "prev_page_query": urlencode(filters.as_query(page=backlog_page.number - 1))
        if backlog_page.has_previous()
        else None,
        "next_page_query": urlencode(filters.as_query(page=backlog_page.number + 1))
        if backlog_page.has_next()
        else None,
        "statuses": BacklogStatus.choices,
    }
    return CardContent(context, query)


def _planners_card(request: HttpRequest, page: PageData) -> CardContent:
    sparklines = series.success_sparklines()
    rows = [
        dataclasses.replace(row, sparkline=sparklines.get(row.planner.slug))
        for row in planner_cards.planner_rows(report=page.report)
    ]
    return CardContent(
        {"planner_rows": rows, "planners_window_hours": planner_cards.window_hours()}
    )


def _stale_card(request: HttpRequest, page: PageData) -> CardContent:
    return CardContent(
        {
            "stale_and_orphaned": stale_cards.stale_and_orphaned(report=page.report),
            "stale_after_label": stale_cards.stale_after_label(),
        }
    )


def _on_own_page(request: HttpRequest, slug: str) -> bool:
    """Whether the card is shown as its own page (its full history), not on the dashboard."""
    current = request.headers.get("HX-Current-URL", "") or request.path
    return urlsplit(current).path == reverse("console:card", args=[slug])


def _history_card(
    request: HttpRequest,
    slug: str,
    form: history.TransitionFilterForm | history.ActionFilterForm,
    rows_name: str,
) -> CardContent | None:
    """The card's page of full history when it is on its own page (its rows under
    ``rows_name``, as on the dashboard); None on the dashboard."""
    if not _on_own_page(request, slug):
        return None
    shown = (
        history.transition_history(form)
        if isinstance(form, history.TransitionFilterForm)
        else history.action_history(form)
    )
    context = {"history": shown, "history_form": form, rows_name: shown.rows}
    return CardContent(context, shown.query(shown.number))


def _transitions_card(request: HttpRequest, page: PageData) -> CardContent:
    full = _history_card(
        request, "transitions", history.TransitionFilterForm(request.GET), "transitions"
    )
    if full is not None:
        return full
    return CardContent({"transitions": transition_cards.recent_transitions(report=page.report)})


def _action_log_card(request: HttpRequest, page: PageData) -> CardContent:
    full = _history_card(request, "action-log", history.ActionFilterForm(request.GET), "action_log")
    if full is not None:
        return full
    return CardContent({"action_log": action_log_cards.recent_actions(report=page.report)})


def _telemetry_card(request: HttpRequest, page: PageData) -> CardContent:
    """Figures and charts over the range the picker chose (``?range=1h|24h|7d``)."""
    now = timezone.now()
    chosen = series.pick_range(request.GET.get("range"))
    telemetry = telemetry_cards.execution_telemetry(now, hours=chosen.hours)
    context = {
        "telemetry": telemetry,
        "series": series.execution_series(chosen, now=now),
        "ranges": series.RANGES.values(),
        "telemetry_range": chosen,
    }
    return CardContent(context, "" if chosen.key == series.DEFAULT_RANGE else f"range={chosen.key}")


def _failures_card(request: HttpRequest, page: PageData) -> CardContent:
    return CardContent(
        {
            "failures": failure_cards.recent_failures(),
            "failures_window_hours": failure_cards.window_hours(),
        }
    )


# In the dashboard's order.
CARDS: dict[str, Card] = {
    card.slug: card
    for card in (
        Card("alerts", "Alerts", "col-wide", _alerts_card),
        Card("backlog", "Backlog by plan", "col-wide", _backlog_card),
        Card("telemetry", "Execution telemetry", "col", _telemetry_card),
        Card("failures", "Recent failures", "col", _failures_card),
        Card("planners", "Planners & templates", "col-wide", _planners_card),
        Card("stale", "Stale & orphaned items", "col", _stale_card),
        Card("action-log", "Action log", "col", _action_log_card),
        Card("transitions", "Recent transitions", "col-wide", _transitions_card),
    )
}


def show(card: Card, request: HttpRequest, page: PageData, context: dict[str, Any]) -> ShownCard:
    """Put ``card``'s content into ``context`` and say how this request shows it."""
    content = card.content(request, page)
    context.update(content.context)
    return ShownCard(card, content.query)
