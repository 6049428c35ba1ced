"""Full history for the transitions and action log cards: filters from the query string and
pages of ``HISTORY_PAGE`` rows, newest first.

A page is read with one query for one row more than it shows (that row says an older page
exists), not with a count: these tables only grow, and counting them would cost more than the
page itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.functional import cached_property
from django.utils.http import urlencode

from planners.health.backlog import (
    ACTION_LOG_FIELDS,
    TRANSITION_FIELDS,
    action_log_line,
    transition_entry,
)
from planners.models import ActionLogEntry, BacklogStatus, BacklogTransition

HISTORY_PAGE = 25
SEARCH_CHARS = 200


@dataclass(frozen=True)
class HistoryPage:
    rows: list[Any]
    number: int
    has_older: bool
    filters: dict[str, str]

    @property
    def newer_query(self) -> str:
        return self.query(self.number - 1)

    @property
    def older_query(self) -> str:
        return self.query(self.number + 1)

    def query(self, page: int) -> str:
        """The query string of page ``page`` under the same filters."""
        return urlencode({**self.filters, **({"page": str(page)} if page > 1 else {})})


class _HistoryForm(forms.Form):
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, data: Any, prefix_id: str) -> None:
        super().__init__(data, auto_id=f"{prefix_id}-%s", label_suffix="")

    @cached_property
    def values(self) -> dict[str, Any]:
        self.is_valid()  # an invalid field drops out of cleaned_data; the others still filter
        return self.cleaned_data

    @property
    def page_number(self) -> int:
        return int(self.values.get("page") or 1)

    def filters(self) -> dict[str, str]:
        return {
            name: str(value)
            for name, value in self.values.items()
            if name != "page" and value not in (None, "")
        }


class TransitionFilterForm(_HistoryForm):
    """``?to=&reason=&q=&page=``"""

    to = forms.ChoiceField(
        label="Became", required=False, choices=[("", "Any"), *BacklogStatus.choices]
    )
    reason = forms.CharField(label="Reason", required=False, max_length=SEARCH_CHARS)
    q = forms.CharField(label="Item", required=False, max_length=SEARCH_CHARS)

    def __init__(self, data: Any) -> None:
        super().__init__(data, "transitions")


class ActionFilterForm(_HistoryForm):
    """``?action=&actor=&page=``"""

    action = forms.CharField(label="Action", required=False, max_length=SEARCH_CHARS)
    actor = forms.CharField(label="Actor", required=False, max_length=SEARCH_CHARS)

    def __init__(self, data: Any) -> None:
        super().__init__(data, "actions")


def _page(queryset: QuerySet[Any], number: int) -> tuple[list[Any], bool]:
    start = (number - 1) * HISTORY_PAGE
    rows = list(queryset[start : start + HISTORY_PAGE + 1])
    return rows[:HISTORY_PAGE], len(rows) > HISTORY_PAGE


def transition_history(form: TransitionFilterForm) -> HistoryPage:
    """One page of real items' status changes under the form's filters; one query."""
    filters = form.filters()
    transitions = BacklogTransition.objects.filter(item__synthetic=False)
    if filters.get("to"):
        transitions = transitions.filter(to_status=filters["to"])
    if filters.get("reason"):
        transitions = transitions.filter(reason__icontains=filters["reason"])
    if filters.get("q"):
        transitions = transitions.filter(item__backlog_id__icontains=filters["q"])
    rows, older = _page(
        transitions.order_by("-created_at", "-id").values(*TRANSITION_FIELDS),
        form.page_number,
    )
    entries = [transition_entry(row) for row in rows]
    return HistoryPage(entries, form.page_number, older, filters)


def action_history(form: ActionFilterForm) -> HistoryPage:
    """One page of the action log under the form's filters; one query."""
    filters = form.filters()
    entries = ActionLogEntry.objects.all()
    if filters.get("action"):
        entries = entries.filter(action__icontains=filters["action"])
    if filters.get("actor"):
        entries = entries.filter(actor__icontains=filters["actor"])
    rows, older = _page(
        entries.order_by("-created_at", "-id").values(*ACTION_LOG_FIELDS), form.page_number
    )
    lines = [action_log_line(row) for row in rows]
    return HistoryPage(lines, form.page_number, older, filters)
