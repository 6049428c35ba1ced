"""What every console view shares: telling a fragment request from a page request, who acts,
where a form may send the browser back to, and the counters every action answers with."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from planners.console.cards import plans as plan_cards
from planners.console.cards.registry import PageData

# The id of the row an action's answer should give focus back to (console.js reads it).
FOCUS_HEADER = "X-Console-Focus"


def is_partial(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx and not htmx.boosted)


def actor_name(request: HttpRequest) -> str:
    return request.user.get_username()


def counters_context(page: PageData) -> dict[str, Any]:
    return {
        "nav_firing_count": page.states().firing,
        "backlog_totals": plan_cards.backlog_totals(page.counts()),
    }


def safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default
