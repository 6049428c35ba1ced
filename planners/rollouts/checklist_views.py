"""Console writes to a whole checklist: start it, verify it, send the drill, record the step
notes and sign it off."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from cognition.access import staff_required
from planners.rollouts import actions
from planners.rollouts.forms import SignOffForm, StepNotesForm, first_error
from planners.rollouts.view_support import actor_name, load_checklist, resolve, respond


@staff_required
@require_POST
def start(request: HttpRequest, planner: str, environment: str) -> HttpResponse:
    meta, env = resolve(planner, environment)
    _, created = actions.get_or_create_checklist(meta.slug, env, actor=actor_name(request))
    notice = "Checklist started from the runbook." if created else "Checklist already started."
    return respond(request, meta, env, notice)


@staff_required
@require_POST
def verify(request: HttpRequest, planner: str, environment: str) -> HttpResponse:
    meta, env = resolve(planner, environment)
    checklist, _ = actions.get_or_create_checklist(meta.slug, env, actor=actor_name(request))
    try:
        run = actions.verify_checklist(checklist, actor=actor_name(request))
    except actions.RolloutError as exc:
        return respond(request, meta, env, str(exc), error=True)
    passed = sum(1 for r in run.results.values() if r.passed)
    notice = f"Verified {len(run.results)} system checks: {passed} passed."
    return respond(request, meta, env, notice, error=not run.passed)


@staff_required
@require_POST
def synthetic_alert(request: HttpRequest, planner: str, environment: str) -> HttpResponse:
    meta, env = resolve(planner, environment)
    checklist, _ = actions.get_or_create_checklist(meta.slug, env, actor=actor_name(request))
    try:
        result = actions.trigger_synthetic_alert_for(checklist, actor=actor_name(request))
    except actions.RolloutError as exc:
        return respond(request, meta, env, str(exc), error=True)
    if result.alert is None:
        return respond(
            request, meta, env, f"No synthetic alert: {result.skipped_reason}.", error=True
        )
    sent = (
        "delivered" if result.delivery is not None else f"not delivered ({result.skipped_reason})"
    )
    notice = (
        f"Synthetic alert {result.alert.alert_id} {sent}. Acknowledge it from the target "
        "channel (the link in the notification, or its PagerDuty or Slack acknowledgement; "
        "the Alerts page does not count), then run Verify."
    )
    return respond(request, meta, env, notice)


@staff_required
@require_POST
def step_notes(request: HttpRequest, planner: str, environment: str) -> HttpResponse:
    meta, env = resolve(planner, environment)
    checklist, _ = actions.get_or_create_checklist(meta.slug, env, actor=actor_name(request))
    form = StepNotesForm(request.POST)
    if not form.is_valid():
        return respond(request, meta, env, first_error(form), error=True)
    try:
        actions.record_step_notes(checklist, actor=actor_name(request), **form.cleaned_data)
    except actions.RolloutError as exc:
        return respond(request, meta, env, str(exc), error=True)
    return respond(request, meta, env, "Files touched and follow-ups saved.")


@staff_required
@require_POST
def sign_off(request: HttpRequest, planner: str, environment: str) -> HttpResponse:
    meta, env = resolve(planner, environment)
    checklist = load_checklist(meta.slug, env)
    if checklist is None:
        return respond(request, meta, env, "Start the checklist first.", error=True)
    form = SignOffForm(request.POST)
    if not form.is_valid():
        return respond(request, meta, env, first_error(form), error=True, sign_off_form=form)
    try:
        record = actions.sign_off(
            checklist,
            owner=request.user,  # type: ignore[arg-type]
            deployment_date=form.cleaned_data["deployment_date"],
            note=form.cleaned_data["note"],
        )
    except actions.RolloutError as exc:
        return respond(request, meta, env, str(exc), error=True, sign_off_form=form)
    return respond(request, meta, env, f"{checklist} signed off by {record.owner_name}.")
