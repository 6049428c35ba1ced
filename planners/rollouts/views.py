"""Console pages for rollouts: the matrix and one checklist, staff only, updated with HTMX.

Every POST answers an HTMX request with the re-rendered checklist fragment (``#checklist``), so
counters, the sign-off panel and the item all stay current without a page reload; without
JavaScript the same forms post normally and are redirected back to the page.
"""

from __future__ import annotations

import logging
import mimetypes
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from cognition.access import staff_required
from planners.framework.errors import UnknownPlannerError
from planners.framework.metadata import PlannerMetadata
from planners.models.rollout import (
    ChecklistItem,
    Environment,
    ItemStatus,
    RolloutChecklist,
)
from planners.rollouts import actions
from planners.rollouts.forms import (
    EvidenceForm,
    MarkItemForm,
    SignOffForm,
    StepNotesForm,
    first_error,
)
from planners.rollouts.note import render_step_note
from planners.rollouts.queries import checklist_status, rollout_matrix

logger = logging.getLogger(__name__)

INLINE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}
)


def _is_partial(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted  # type: ignore[union-attr]


def _actor(request: HttpRequest) -> str:
    return request.user.get_username()


@staff_required
@require_GET
def matrix(request: HttpRequest) -> HttpResponse:
    context = {"matrix": rollout_matrix()}
    if _is_partial(request):
        return render(request, "rollouts/partials/matrix.html", context)
    return render(request, "rollouts/matrix.html", context)


def _resolve(planner: str, environment: str) -> tuple[PlannerMetadata, Environment]:
    try:
        meta = actions.planner_metadata(planner)
        env = actions.get_environment(environment)
    except (UnknownPlannerError, actions.RolloutError) as exc:
        raise Http404(str(exc)) from exc
    return meta, env


def _load_checklist(planner: str, env: Environment) -> RolloutChecklist | None:
    return (
        RolloutChecklist.objects.select_related("environment", "sign_off")
        .filter(planner_slug=planner, environment=env)
        .first()
    )


def _checklist_context(
    request: HttpRequest,
    meta: PlannerMetadata,
    env: Environment,
    *,
    notice: str = "",
    notice_is_error: bool = False,
    sign_off_form: SignOffForm | None = None,
) -> dict[str, Any]:
    checklist = _load_checklist(meta.slug, env)
    items: list[ChecklistItem] = list(checklist.items.all()) if checklist is not None else []
    problems = (
        actions.sign_off_problems(checklist, request.user, items=items)  # type: ignore[arg-type]
        if checklist is not None and not checklist.is_signed_off
        else []
    )
    return {
        "planner": meta,
        "environment": env,
        "checklist": checklist,
        "items": items,
        "status": checklist_status(checklist, items) if checklist is not None else None,
        "required_total": sum(1 for i in items if i.required),
        "required_done": sum(1 for i in items if i.required and i.is_done),
        "sign_off_problems": problems,
        "sign_off_form": sign_off_form or SignOffForm(),
        "can_verify": env.name == settings.DEPLOY_ENVIRONMENT,
        "item_statuses": ItemStatus.choices,
        "notice": notice,
        "notice_is_error": notice_is_error,
    }


@staff_required
@require_GET
def checklist(request: HttpRequest, planner: str, environment: str) -> HttpResponse:
    meta, env = _resolve(planner, environment)
    context = _checklist_context(request, meta, env)
    if _is_partial(request):
        return render(request, "rollouts/partials/checklist.html", context)
    return render(request, "rollouts/checklist.html", context)


def _respond(
    request: HttpRequest,
    meta: PlannerMetadata,
    env: Environment,
    notice: str,
    *,
    error: bool = False,
    sign_off_form: SignOffForm | None = None,
) -> HttpResponse:
    """HTMX: the fresh checklist fragment with the notice. Plain form post: back to the page."""
    if _is_partial(request):
        context = _checklist_context(
            request, meta, env, notice=notice, notice_is_error=error, sign_off_form=sign_off_form
        )
        return render(request, "rollouts/partials/checklist.html", context)
    if error:
        context = _checklist_context(
            request, meta, env, notice=notice, notice_is_error=True, sign_off_form=sign_off_form
        )
        return render(request, "rollouts/checklist.html", context, status=400)
    messages.success(request, notice)
    return redirect("rollouts:checklist", meta.slug, env.name)


@staff_required
@require_POST
def start(request: HttpRequest, planner: str, environment: str) -> HttpResponse:
    meta, env = _resolve(planner, environment)
    _, created = actions.get_or_create_checklist(meta.slug, env, actor=_actor(request))
    notice = "Checklist started from the runbook." if created else "Checklist already started."
    return _respond(request, meta, env, notice)


def _item(meta: PlannerMetadata, env: Environment, key: str) -> ChecklistItem:
    return get_object_or_404(
        ChecklistItem.objects.select_related("checklist__environment"),
        checklist__planner_slug=meta.slug,
        checklist__environment=env,
        key=key,
    )


@staff_required
@require_POST
def mark(request: HttpRequest, planner: str, environment: str, key: str) -> HttpResponse:
    meta, env = _resolve(planner, environment)
    item = _item(meta, env, key)
    form = MarkItemForm(request.POST)
    if not form.is_valid():
        return _respond(request, meta, env, first_error(form), error=True)
    try:
        actions.mark_item(
            item,
            status=form.cleaned_data["status"],
            actor=_actor(request),
            waiver_reason=form.cleaned_data["waiver_reason"],
            note=form.cleaned_data["note"],
        )
    except actions.RolloutError as exc:
        return _respond(request, meta, env, str(exc), error=True)
    return _respond(request, meta, env, f"“{item.title}” marked {item.get_status_display()}.")


@staff_required
@require_POST
def attach(request: HttpRequest, planner: str, environment: str, key: str) -> HttpResponse:
    meta, env = _resolve(planner, environment)
    item = _item(meta, env, key)
    form = EvidenceForm(request.POST, request.FILES)
    if not form.is_valid():
        return _respond(request, meta, env, first_error(form), error=True)
    upload: UploadedFile | None = form.cleaned_data["file"]
    try:
        actions.attach_evidence(
            item,
            actor=_actor(request),
            text=form.cleaned_data["text"],
            link=form.cleaned_data["link"],
            upload=upload,
        )
    except actions.RolloutError as exc:
        return _respond(request, meta, env, str(exc), error=True)
    return _respond(request, meta, env, f"Evidence attached to “{item.title}”.")


@staff_required
@require_GET
def evidence_file(request: HttpRequest, planner: str, environment: str, key: str) -> HttpResponse:
    """Uploaded evidence is served to staff only, never from a public media URL."""
    meta, env = _resolve(planner, environment)
    item = _item(meta, env, key)
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
@require_POST
def verify(request: HttpRequest, planner: str, environment: str) -> HttpResponse:
    meta, env = _resolve(planner, environment)
    checklist, _ = actions.get_or_create_checklist(meta.slug, env, actor=_actor(request))
    try:
        run = actions.verify_checklist(checklist, actor=_actor(request))
    except actions.RolloutError as exc:
        return _respond(request, meta, env, str(exc), error=True)
    passed = sum(1 for r in run.results.values() if r.passed)
    notice = f"Verified {len(run.results)} system checks: {passed} passed."
    return _respond(request, meta, env, notice, error=not run.passed)


@staff_required
@require_POST
def synthetic_alert(request: HttpRequest, planner: str, environment: str) -> HttpResponse:
    meta, env = _resolve(planner, environment)
    checklist, _ = actions.get_or_create_checklist(meta.slug, env, actor=_actor(request))
    try:
        result = actions.trigger_synthetic_alert_for(checklist, actor=_actor(request))
    except actions.RolloutError as exc:
        return _respond(request, meta, env, str(exc), error=True)
    if result.alert is None:
        return _respond(
            request, meta, env, f"No synthetic alert: {result.skipped_reason}.", error=True
        )
    sent = (
        "delivered" if result.delivery is not None else f"not delivered ({result.skipped_reason})"
    )
    notice = (
        f"Synthetic alert {result.alert.alert_id} {sent}. Acknowledge it from the target "
        "channel (or the Alerts page), then run Verify."
    )
    return _respond(request, meta, env, notice)


@staff_required
@require_POST
def step_notes(request: HttpRequest, planner: str, environment: str) -> HttpResponse:
    meta, env = _resolve(planner, environment)
    checklist, _ = actions.get_or_create_checklist(meta.slug, env, actor=_actor(request))
    form = StepNotesForm(request.POST)
    if not form.is_valid():
        return _respond(request, meta, env, first_error(form), error=True)
    try:
        actions.record_step_notes(checklist, actor=_actor(request), **form.cleaned_data)
    except actions.RolloutError as exc:
        return _respond(request, meta, env, str(exc), error=True)
    return _respond(request, meta, env, "Files touched and follow-ups saved.")


@staff_required
@require_GET
def step_note(request: HttpRequest, planner: str, environment: str) -> HttpResponse:
    """The same Markdown as ``manage.py rollout_note``, to read or save from the browser."""
    meta, env = _resolve(planner, environment)
    checklist = _load_checklist(meta.slug, env)
    if checklist is None:
        raise Http404(f"No rollout checklist for {meta.slug} in {env.name} yet.")
    return HttpResponse(render_step_note(checklist), content_type="text/markdown; charset=utf-8")


@staff_required
@require_POST
def sign_off(request: HttpRequest, planner: str, environment: str) -> HttpResponse:
    meta, env = _resolve(planner, environment)
    checklist = _load_checklist(meta.slug, env)
    if checklist is None:
        return _respond(request, meta, env, "Start the checklist first.", error=True)
    form = SignOffForm(request.POST)
    if not form.is_valid():
        return _respond(request, meta, env, first_error(form), error=True, sign_off_form=form)
    try:
        record = actions.sign_off(
            checklist,
            owner=request.user,  # type: ignore[arg-type]
            deployment_date=form.cleaned_data["deployment_date"],
            note=form.cleaned_data["note"],
        )
    except actions.RolloutError as exc:
        return _respond(request, meta, env, str(exc), error=True, sign_off_form=form)
    return _respond(request, meta, env, f"{checklist} signed off by {record.owner_name}.")
