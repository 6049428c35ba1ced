"""The Backlog Telemetry dashboard, its health banner and each card on its own."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from cognition.access import staff_required
from planners.console.cards.plans import plans_with_counts
from planners.console.cards.registry import CARDS, PageData, show
from planners.console.health import health_summary
from planners.console.views.common import counters_context, is_partial
from planners.health import build_health_report


@staff_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    # One report per request: the banner and the cards that show what it knows read the same
    # one; likewise one count of every plan's items for the counters strip and the backlog card.
    page = PageData(report=build_health_report(), plan_counts=plans_with_counts())
    context: dict[str, Any] = {"health": health_summary(report=page.report)}
    context.update(counters_context(page))
    context["cards"] = [show(card, request, page, context) for card in CARDS.values()]
    context["live_url"] = reverse("console:live")
    return render(request, "console/dashboard.html", context)


@staff_required
@require_GET
def health_banner(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"health": health_summary()}
    context.update(counters_context(PageData()))
    if is_partial(request):
        return render(request, "console/partials/health_banner.html", context)
    return redirect("console:dashboard")


@staff_required
@require_GET
def card(request: HttpRequest, slug: str) -> HttpResponse:
    """One card: its fragment for HTMX, or a page holding only that card otherwise."""
    found = CARDS.get(slug)
    if found is None:
        raise Http404(f"No console card named {slug!r}.")
    context: dict[str, Any] = {}
    page = PageData()
    context["card"] = show(found, request, page, context)
    context["nav_firing_count"] = page.states().firing
    if is_partial(request):
        return render(request, found.template, context)
    context["live_url"] = reverse("console:live")
    return render(request, "console/card_page.html", context)
