"""The alerts card: alerts from ops alerting with their silence state, filtered by a form."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property

from opsalerts.models import Alert, Severity, Silence
from opsalerts.silences import active_silences
from planners.console.links import admin_url

ALERT_STATES = ("firing", "acknowledged", "resolved", "silenced")
STATE_ORDER = {"firing": 0, "acknowledged": 1, "silenced": 2, "resolved": 3}
ALERTS_SHOWN = 200


@dataclass(frozen=True)
class AlertFilters:
    severity: str = ""
    state: str = ""

    def as_query(self) -> dict[str, str]:
        return {k: v for k, v in (("severity", self.severity), ("state", self.state)) if v}


class AlertFilterForm(forms.Form):
    """``?severity=&state=``: a value that is not one of the choices is ignored, not an error."""

    severity = forms.ChoiceField(
        label="Severity", required=False, choices=[("", "Any"), *Severity.choices]
    )
    state = forms.ChoiceField(
        label="State",
        required=False,
        choices=[("", "Any"), *((state, state.capitalize()) for state in ALERT_STATES)],
    )

    def __init__(self, data: Any) -> None:
        super().__init__(data, auto_id="alerts-%s", label_suffix="")

    @cached_property
    def filters(self) -> AlertFilters:
        self.is_valid()  # an invalid field drops out of cleaned_data; the others still filter
        data = self.cleaned_data
        return AlertFilters(severity=data.get("severity", ""), state=data.get("state", ""))


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
