"""The backlog's action: resume an item from the dashboard's backlog card or the plan page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cognition.access import staff_required
from planners.actions import ResumeRefused, resume_backlog_item
from planners.console.cards.registry import CARDS, PageData, show
from planners.console.views.common import (
    FOCUS_HEADER,
    actor_name,
    counters_context,
    is_partial,
    safe_next,
)
from planners.models import BacklogItem


@staff_required
@require_POST
def resume(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(BacklogItem.objects.select_related("plan"), pk=pk)
    error = False
    try:
        resume_backlog_item(item, actor=actor_name(request), reason="resume")
        notice = f"Resumed {item.backlog_id}: it is queued again."
    except ResumeRefused as exc:
        notice, error = f"Not resumed: {exc}", True
    if not is_partial(request):
        (messages.error if error else messages.success)(request, notice)
        return HttpResponseRedirect(safe_next(request, reverse("console:dashboard")))
    context: dict[str, Any] = {"notice": notice, "notice_is_error": error, "oob": True}
    page = PageData()
    context["card"] = show(CARDS["backlog"], request, page, context)
    context.update(counters_context(page))
    response = render(request, "console/partials/backlog_action.html", context)
    response[FOCUS_HEADER] = f"backlog-{item.pk}"
    return response
