"""The one poll of a console page: every card the page shows, its banner or counters and the
nav badge come back in one response, each as an out-of-band swap.

One request per refresh rather than one per card (the dashboard made nine): the page's cards
read one health report and one count of the backlog, as the page itself does, and the browser
holds one connection. Out-of-band swaps over plain polling rather than server-sent events: a
request that fails is the signal the "Live updates paused" bar needs, WSGI workers are not tied
up by open streams, and every response is an ordinary GET a test client can read.
"""

from __future__ import annotations

import copy
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from cognition.access import staff_required
from planners.console.cards.registry import CARDS, PageData, show
from planners.console.health import health_summary
from planners.console.views.common import counters_context, is_partial
from planners.health import build_health_report


def _card_request(request: HttpRequest, query: str) -> HttpRequest:
    """The request as one card sees it: its own filters (``q-<slug>``) as the query."""
    card_request = copy.copy(request)
    card_request.GET = QueryDict(query)
    return card_request


@staff_required
@require_GET
def live(request: HttpRequest) -> HttpResponse:
    """``?cards=alerts,backlog&q-alerts=state=firing&banner=1`` (what console.js sends)."""
    if not is_partial(request):
        return redirect("console:dashboard")
    requested = [slug for slug in request.GET.get("cards", "").split(",") if slug in CARDS]
    with_banner = request.GET.get("banner") == "1"
    # As the dashboard does: the banner's report serves the cards that show what it knows.
    page = PageData(report=build_health_report() if with_banner else None)
    context: dict[str, Any] = {"card_oob": True}
    if with_banner:
        context["health"] = health_summary(report=page.report)
    context["cards"] = [
        show(CARDS[slug], _card_request(request, request.GET.get(f"q-{slug}", "")), page, context)
        for slug in requested
    ]
    context.update(counters_context(page))
    context["with_counters"] = request.GET.get("counters") == "1"
    return render(request, "console/partials/live.html", context)
