"""Console pages for rollouts, staff only: the matrix, one checklist, its step note, its
evidence files and the runbook itself. The checklist's writes are in ``item_views`` and
``checklist_views``; what they share is in ``view_support``.
"""

from __future__ import annotations

import logging
import mimetypes
from typing import Any, cast

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cognition.access import staff_required
from opsalerts.silences import alert_states
from planners.rollouts import runbook
from planners.rollouts.note import render_step_note
from planners.rollouts.queries import rollout_matrix
from planners.rollouts.view_support import (
    checklist_context,
    checklist_item,
    is_partial,
    load_checklist,
    resolve,
)

logger = logging.getLogger(__name__)

INLINE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}
)


@staff_required
@require_GET
def matrix(request: HttpRequest) -> HttpResponse:
    context = {"matrix": rollout_matrix()}
    if is_partial(request):
        return render(request, "rollouts/partials/matrix.html", context)
    return render(request, "rollouts/matrix.html", _with_nav(context))


@staff_required
@require_GET
def checklist(request: HttpRequest, planner: str, environment: str) -> HttpResponse:
    meta, env = resolve(planner, environment)
    context = checklist_context(request, meta, env)
    if is_partial(request):
        return render(request, "rollouts/partials/checklist.html", context)
    return render(request, "rollouts/checklist.html", _with_nav(context))


def _with_nav(context: dict[str, Any]) -> dict[str, Any]:
    """A full page's navigation shows how many alerts are firing, as on every console page."""
    return {**context, "nav_firing_count": alert_states().firing}


@staff_required
@require_GET
def gate(request: HttpRequest, planner: str, environment: str) -> HttpResponse:
    """The checklist's gate card alone: the watch countdown polls it while the watch runs."""
    meta, env = resolve(planner, environment)
    context = checklist_context(request, meta, env)
    if context["checklist"] is None:
        raise Http404(f"No rollout checklist for {meta.slug} in {env.name} yet.")
    return render(request, "rollouts/partials/gate.html", context)


@staff_required
@require_GET
def evidence_file(request: HttpRequest, planner: str, environment: str, key: str) -> HttpResponse:
    """Uploaded evidence is served to staff only, never from a public media URL."""
    meta, env = resolve(planner, environment)
    item = checklist_item(meta, env, key)
    if not item.evidence_file:
        raise Http404("No file attached to this item.")
    # Only inert types are shown inline; anything else (an uploaded .html, say) downloads, so
    # evidence can never run script in the console's origin.
    content_type, _ = mimetypes.guess_type(item.evidence_file.name)
    response = FileResponse(
        item.evidence_file.open("rb"), as_attachment=content_type not in INLINE_TYPES
    )
    # FileResponse streams; staff_required is typed for HttpResponse but passes it through.
    return cast(HttpResponse, response)


@staff_required
@require_GET
def step_note(request: HttpRequest, planner: str, environment: str) -> HttpResponse:
    """The same Markdown as ``manage.py rollout_note``, to read or save from the browser."""
    meta, env = resolve(planner, environment)
    checklist = load_checklist(meta.slug, env)
    if checklist is None:
        raise Http404(f"No rollout checklist for {meta.slug} in {env.name} yet.")
    return HttpResponse(render_step_note(checklist), content_type="text/markdown; charset=utf-8")


@staff_required
@require_GET
def runbook_document(request: HttpRequest) -> HttpResponse:
    """The runbook the checklists follow, as shipped in the repository (Markdown)."""
    path = settings.BASE_DIR / runbook.RUNBOOK_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise Http404(f"This install lacks the runbook ({runbook.RUNBOOK_PATH}).") from exc
    return HttpResponse(text, content_type="text/markdown; charset=utf-8")
