"""The alerts card: alerts from ops alerting with their silence state, filtered by a form and
paged through their whole history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Case, QuerySet, Value, When
from django.urls import reverse
from django.utils.functional import cached_property

from opsalerts.models import Alert, Severity, Silence
from opsalerts.silences import ALERT_STATES, AlertStates
from planners.console.cards.paging import CountedPaginator
from planners.console.links import admin_url


@dataclass(frozen=True)
class AlertFilters:
    severity: str = ""
    state: str = ""
    page: int = 1

    def as_query(self, *, page: int | None = None) -> dict[str, str]:
        values = {
            "severity": self.severity,
            "state": self.state,
            "page": str(page) if page and page > 1 else "",
        }
        return {k: v for k, v in values.items() if v}


class AlertFilterForm(forms.Form):
    """``?severity=&state=&page=``: a value that is not one of the choices is ignored."""

    severity = forms.ChoiceField(
        label="Severity", required=False, choices=[("", "Any"), *Severity.choices]
    )
    state = forms.ChoiceField(
        label="State",
        required=False,
        choices=[("", "Any"), *((state, state.capitalize()) for state in ALERT_STATES)],
    )
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, data: Any) -> None:
        super().__init__(data, auto_id="alerts-%s", label_suffix="")

    @cached_property
    def filters(self) -> AlertFilters:
        self.is_valid()  # an invalid field drops out of cleaned_data; the others still filter
        data = self.cleaned_data
        return AlertFilters(
            severity=data.get("severity", ""),
            state=data.get("state", ""),
            page=data.get("page") or 1,
        )


@dataclass(frozen=True)
class AlertLink:
    label: str
    url: str


@dataclass
class AlertRow:
    alert: Alert
    state: str
    silenced_until: datetime | None
    links: list[AlertLink]


@dataclass
class AlertListing:
    rows: list[AlertRow]
    counts: dict[str, int]
    filters: AlertFilters
    page: Page[Alert]


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


def silenced_until(alert_id: str, silences: list[Silence]) -> datetime | None:
    ends = [s.ends_at for s in silences if s.matches(alert_id)]
    return max(ends) if ends else None


def _ordered_alerts(states: AlertStates, filters: AlertFilters) -> QuerySet[Alert]:
    """What needs a person first: firing, then acknowledged, silenced, resolved; each group
    most recently seen first."""
    queryset = Alert.objects.all()
    if filters.severity:
        queryset = queryset.filter(severity=filters.severity)
    if filters.state:
        queryset = queryset.filter(states.having(filters.state))
    rank = Case(
        *([When(pk__in=states.silenced_pks, then=Value(2))] if states.silenced_pks else []),
        When(status=Alert.Status.FIRING, then=Value(0)),
        When(status=Alert.Status.ACKNOWLEDGED, then=Value(1)),
        default=Value(3),
    )
    return queryset.order_by(rank, "-last_seen", "-id")


def alert_listing(filters: AlertFilters, *, states: AlertStates) -> AlertListing:
    """One page of alerts with their state as the badge counts it: one query, two when a
    severity filter means the states' counts do not give the total."""
    queryset = _ordered_alerts(states, filters)
    if filters.severity:
        paginator = Paginator(queryset, settings.CONSOLE_PAGE_SIZE)
    else:
        total = states.counts[filters.state] if filters.state else sum(states.counts.values())
        paginator = CountedPaginator(queryset, settings.CONSOLE_PAGE_SIZE, total)
    page = paginator.get_page(filters.page)
    rows = [
        AlertRow(
            alert,
            states.state_of(alert),
            silenced_until(alert.alert_id, states.silences),
            _alert_links(alert),
        )
        for alert in page.object_list
    ]
    return AlertListing(rows=rows, counts=states.counts, filters=filters, page=page)
