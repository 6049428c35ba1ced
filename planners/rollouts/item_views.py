"""Console writes to one checklist item: marking it (passed, failed, waived) and attaching
evidence. System-verified items refuse both marking and waiving (``actions.mark_item``)."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from cognition.access import staff_required
from planners.rollouts import actions
from planners.rollouts.forms import EvidenceForm, MarkItemForm, first_error
from planners.rollouts.view_support import actor_name, checklist_item, resolve, respond


@staff_required
@require_POST
def mark(request: HttpRequest, planner: str, environment: str, key: str) -> HttpResponse:
    meta, env = resolve(planner, environment)
    item = checklist_item(meta, env, key)
    form = MarkItemForm(request.POST)
    if not form.is_valid():
        return respond(request, meta, env, first_error(form), error=True)
    try:
        actions.mark_item(
            item,
            status=form.cleaned_data["status"],
            actor=actor_name(request),
            waiver_reason=form.cleaned_data["waiver_reason"],
            note=form.cleaned_data["note"],
        )
    except actions.RolloutError as exc:
        return respond(request, meta, env, str(exc), error=True)
    return respond(request, meta, env, f"“{item.title}” marked {item.get_status_display()}.")


@staff_required
@require_POST
def attach(request: HttpRequest, planner: str, environment: str, key: str) -> HttpResponse:
    meta, env = resolve(planner, environment)
    item = checklist_item(meta, env, key)
    form = EvidenceForm(request.POST, request.FILES)
    if not form.is_valid():
        return respond(request, meta, env, first_error(form), error=True)
    upload: UploadedFile | None = form.cleaned_data["file"]
    try:
        actions.attach_evidence(
            item,
            actor=actor_name(request),
            text=form.cleaned_data["text"],
            link=form.cleaned_data["link"],
            upload=upload,
        )
    except actions.RolloutError as exc:
        return respond(request, meta, env, str(exc), error=True)
    return respond(request, meta, env, f"Evidence attached to “{item.title}”.")
