"""The alerts page and the alert actions: acknowledge and silence."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from cognition.access import staff_required
from opsalerts.acknowledgement import NOTE_MAX_CHARS
from opsalerts.actions import acknowledge_alert, silence_alerts
from opsalerts.models import Alert
from planners.console.cards.registry import CARDS, SILENCE_CHOICES, PageData, show
from planners.console.views.common import (
    FOCUS_HEADER,
    actor_name,
    counters_context,
    is_partial,
    safe_next,
)


@staff_required
@require_GET
def alerts_page(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {}
    page = PageData()
    context["card"] = show(CARDS["alerts"], request, page, context)
    if is_partial(request):
        return render(request, CARDS["alerts"].template, context)
    context.update(counters_context(page), live_url=reverse("console:live"))
    return render(request, "console/alerts.html", context)


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        max_length=NOTE_MAX_CHARS,
        required=False,
        label="Note",
        help_text="Why it can wait: a rollout lets an acknowledged warning through only with one.",
    )


class SilenceForm(forms.Form):
    pattern = forms.CharField(
        max_length=250, label="Alert id or pattern", help_text="A glob such as backlog:*"
    )
    minutes = forms.TypedChoiceField(
        choices=SILENCE_CHOICES, coerce=int, initial=60, label="Silence for"
    )
    reason = forms.CharField(max_length=500, required=False, label="Reason")


def _alerts_action_response(
    request: HttpRequest, notice: str, *, error: bool = False, focus: str = ""
) -> HttpResponse:
    if not is_partial(request):
        (messages.error if error else messages.success)(request, notice)
        return HttpResponseRedirect(safe_next(request, reverse("console:dashboard")))
    context: dict[str, Any] = {"notice": notice, "notice_is_error": error, "oob": True}
    page = PageData()
    context["card"] = show(CARDS["alerts"], request, page, context)
    context.update(counters_context(page))
    response = render(request, "console/partials/alerts_action.html", context)
    if focus:
        response[FOCUS_HEADER] = focus
    return response


@staff_required
@require_POST
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(Alert, pk=pk)
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(" ".join(str(e) for e in v) for v in form.errors.values())
        return _alerts_action_response(
            request, f"Not acknowledged: {errors}", error=True, focus=f"alert-{alert.pk}"
        )
    changed = acknowledge_alert(
        alert,
        actor=actor_name(request),
        channel=Alert.Channel.CONSOLE,
        note=form.cleaned_data["note"],
    )
    if changed:
        notice = f"Acknowledged {alert.alert_id}."
    else:
        notice = f"{alert.alert_id} was already {alert.get_status_display().lower()}."
    return _alerts_action_response(request, notice, focus=f"alert-{alert.pk}")


@staff_required
@require_POST
def silence(request: HttpRequest) -> HttpResponse:
    form = SilenceForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(f"{k}: {' '.join(str(e) for e in v)}" for k, v in form.errors.items())
        return _alerts_action_response(request, f"Not silenced: {errors}", error=True)
    data = form.cleaned_data
    result = silence_alerts(
        data["pattern"],
        minutes=data["minutes"],
        author=actor_name(request),
        reason=data["reason"] or "silenced from the console",
    )
    ends = getattr(result, "ends_at", None)
    until = f" until {ends:%Y-%m-%d %H:%M} UTC" if ends else ""
    focus = request.POST.get("row", "")
    return _alerts_action_response(request, f"Silenced {data['pattern']}{until}.", focus=focus)
