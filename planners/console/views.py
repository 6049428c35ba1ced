"""The Backlog Telemetry console: pages, card partials and the POST actions.

A request gets a fragment only when HTMX asked for it and did not boost it (NetBox's rule);
everything else gets a whole page, so every link and form works without JavaScript. Actions
answer HTMX with the updated card plus out-of-band counters, and everyone else with a redirect
to the full page (post/redirect/get).
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from cognition.access import staff_required
from opsalerts.actions import acknowledge_alert, silence_alerts
from opsalerts.models import Alert
from planners.actions import (
    ResumeRefused,
    resume_backlog_item,
    start_fresh_run,
    start_pipeline,
)
from planners.console.cards import alerts as alert_cards
from planners.console.cards import plans as plan_cards
from planners.console.cards.plans import plans_with_counts
from planners.console.cards.registry import CARDS, SILENCE_CHOICES, PageData, show
from planners.console.health import health_summary
from planners.console.links import admin_url
from planners.health import build_health_report
from planners.models import BacklogItem, BacklogStatus, PhaseTranscript, Plan
from planners.pipeline.registry import pipelines

logger = logging.getLogger(__name__)


def is_partial(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx and not htmx.boosted)


def actor_name(request: HttpRequest) -> str:
    return request.user.get_username()


def _counters_context(page: PageData) -> dict[str, Any]:
    return {
        "nav_firing_count": alert_cards.firing_alert_count(),
        "backlog_totals": plan_cards.backlog_totals(page.counts()),
    }


@staff_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    # One report per request: the banner and the cards that show what it knows read the same
    # one; likewise one count of every plan's items for the counters strip and the backlog card.
    page = PageData(report=build_health_report(), plan_counts=plans_with_counts())
    context: dict[str, Any] = {"health": health_summary(report=page.report)}
    context.update(_counters_context(page))
    context["cards"] = [show(card, request, page, context) for card in CARDS.values()]
    return render(request, "console/dashboard.html", context)


@staff_required
@require_GET
def health_banner(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"health": health_summary()}
    context.update(_counters_context(PageData()))
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
    context["card"] = show(found, request, PageData(), context)
    context["nav_firing_count"] = alert_cards.firing_alert_count()
    if is_partial(request):
        return render(request, found.template, context)
    return render(request, "console/card_page.html", context)


# --- Alerts page and actions ------------------------------------------------------------------


@staff_required
@require_GET
def alerts_page(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {}
    context["card"] = show(CARDS["alerts"], request, PageData(), context)
    if is_partial(request):
        return render(request, CARDS["alerts"].template, context)
    context.update(_counters_context(PageData()))
    return render(request, "console/alerts.html", context)


class SilenceForm(forms.Form):
    pattern = forms.CharField(
        max_length=250, label="Alert id or pattern", help_text="A glob such as backlog:*"
    )
    minutes = forms.TypedChoiceField(
        choices=SILENCE_CHOICES, coerce=int, initial=60, label="Silence for"
    )
    reason = forms.CharField(max_length=500, required=False, label="Reason")


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _alerts_action_response(
    request: HttpRequest, notice: str, *, error: bool = False
) -> HttpResponse:
    if not is_partial(request):
        (messages.error if error else messages.success)(request, notice)
        return HttpResponseRedirect(_safe_next(request, reverse("console:dashboard")))
    context: dict[str, Any] = {"notice": notice, "notice_is_error": error, "oob": True}
    context["card"] = show(CARDS["alerts"], request, PageData(), context)
    context.update(_counters_context(PageData()))
    return render(request, "console/partials/alerts_action.html", context)


@staff_required
@require_POST
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(Alert, pk=pk)
    changed = acknowledge_alert(alert, actor=actor_name(request), channel=Alert.Channel.CONSOLE)
    if changed:
        notice = f"Acknowledged {alert.alert_id}."
    else:
        notice = f"{alert.alert_id} was already {alert.get_status_display().lower()}."
    return _alerts_action_response(request, notice)


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
    return _alerts_action_response(request, f"Silenced {data['pattern']}{until}.")


# --- Backlog actions --------------------------------------------------------------------------


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
        return HttpResponseRedirect(_safe_next(request, reverse("console:dashboard")))
    context: dict[str, Any] = {"notice": notice, "notice_is_error": error, "oob": True}
    page = PageData()
    context["card"] = show(CARDS["backlog"], request, page, context)
    context.update(_counters_context(page))
    return render(request, "console/partials/backlog_action.html", context)


# --- Plans and transcripts --------------------------------------------------------------------


@staff_required
@require_GET
def plan_list(request: HttpRequest) -> HttpResponse:
    context = {
        "plan_counts": plans_with_counts(),
        "statuses": BacklogStatus.choices,
        "nav_firing_count": alert_cards.firing_alert_count(),
    }
    return render(request, "console/plan_list.html", context)


# The plan page's progress card, rendered alone when HTMX polls it or a run starts.
PLAN_PROGRESS = "console/plan_detail.html#plan-progress"


def _progress_context(plan: Plan, *, watching: bool) -> dict[str, Any]:
    progress = plan_cards.plan_progress(plan)
    running = plan_cards.plan_is_running(progress)
    pending = any(c.get(BacklogStatus.PENDING) for c in progress.values())
    live = running or (watching and pending)
    phases = []
    for phase, label in plan_cards.plan_phase_labels(plan):
        counts = progress.get(phase, {})
        phases.append(
            {
                "phase": phase,
                "label": label,
                "status": plan_cards.phase_status(counts),
                "counts": counts,
                "total": sum(counts.values()),
                "complete": counts.get(BacklogStatus.COMPLETE, 0),
            }
        )
    return {
        "plan": plan,
        "progress_phases": phases,
        "running": running,
        "live": live,
        "poll_seconds": 2 if live else settings.CONSOLE_REFRESH_SECONDS,
        "watching": watching,
    }


@staff_required
@require_GET
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(Plan.objects.select_related("project"), pk=pk)
    context = _progress_context(plan, watching=False)
    pipeline = pipelines.get(plan.pipeline) if plan.pipeline in pipelines else None
    context.update(
        pipeline=pipeline,
        phases=plan_cards.plan_phases(plan),
        nav_firing_count=alert_cards.firing_alert_count(),
        plan_admin_url=admin_url("planners_plan_change", plan.pk),
    )
    if pipeline is not None and pipeline.records_template and pipeline.records_context:
        # The family's records partial reads its own names (brief, scrolls...) from the page.
        context.update(pipeline.records_context(plan), records_template=pipeline.records_template)
    return render(request, "console/plan_detail.html", context)


@staff_required
@require_GET
def plan_progress(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(Plan.objects.select_related("project"), pk=pk)
    if not is_partial(request):
        return redirect("console:plan", pk=plan.pk)
    watching = request.GET.get("watch") == "1"
    context = _progress_context(plan, watching=watching)
    if watching and not context["live"]:
        # The run the operator was watching has just stopped: say how it ended.
        stuck = sum(
            p["counts"].get(BacklogStatus.BLOCKED, 0) + p["counts"].get(BacklogStatus.FAILED, 0)
            for p in context["progress_phases"]
        )
        if stuck:
            context.update(notice=f"The pipeline stopped: {stuck} item(s) blocked or failed.")
            context.update(notice_is_error=True)
        else:
            context.update(notice="The pipeline finished. Reload the page for the transcripts.")
    return render(request, PLAN_PROGRESS, context)


@staff_required
@require_POST
def run_pipeline(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(Plan.objects.select_related("project"), pk=pk)
    if plan.status == Plan.Status.COMPLETE:
        # As the command does: a finished plan stays as it is; a fresh one runs again.
        fresh = start_fresh_run(plan, actor=actor_name(request))
        messages.success(
            request, f"Started a fresh run of {plan.project.title} on branch {fresh.branch}."
        )
        target = reverse("console:plan", args=[fresh.pk])
        if is_partial(request):
            return HttpResponseClientRedirect(target)
        return redirect(target)
    queued = start_pipeline(plan, actor=actor_name(request))
    if queued:
        names = ", ".join(item.backlog_id for item in queued[:5])
        notice, error = f"Queued {len(queued)} item(s): {names}.", False
    else:
        notice, error = "Nothing was ready to run: every item is done, running or waiting.", True
    logger.info(
        "pipeline run for plan %s by %s: %s queued", plan.pk, actor_name(request), len(queued)
    )
    if not is_partial(request):
        (messages.error if error else messages.success)(request, notice)
        return redirect("console:plan", pk=plan.pk)
    plan.refresh_from_db()
    context = _progress_context(plan, watching=True)
    context.update(notice=notice, notice_is_error=error)
    return render(request, PLAN_PROGRESS, context)


@staff_required
@require_GET
def transcript_detail(request: HttpRequest, pk: int) -> HttpResponse:
    transcript = get_object_or_404(
        PhaseTranscript.objects.select_related(
            "plan", "plan__project", "backlog_item", "execution"
        ),
        pk=pk,
    )
    context = {
        "transcript": transcript,
        "nav_firing_count": alert_cards.firing_alert_count(),
        "execution_admin_url": admin_url(
            "planners_plannerexecution_change", transcript.execution_id
        )
        if transcript.execution_id
        else "",
    }
    return render(request, "console/transcript_detail.html", context)
