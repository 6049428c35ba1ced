"""The Backlog Telemetry console: pages, card partials and the POST actions.

A request gets a fragment only when HTMX asked for it and did not boost it (NetBox's rule);
everything else gets a whole page, so every link and form works without JavaScript. Actions
answer HTMX with the updated card plus out-of-band counters, and everyone else with a redirect
to the full page (post/redirect/get).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from cognition.access import staff_required
from opsalerts.actions import acknowledge_alert, silence_alerts
from opsalerts.models import Alert, Severity
from planners.actions import (
    ResumeRefused,
    resume_backlog_item,
    start_fresh_run,
    start_pipeline,
)
from planners.console import plan_table, queries
from planners.console.charts import hourly_chart
from planners.console.health import health_summary
from planners.health import PlannerHealthReport, build_health_report
from planners.models import BacklogItem, BacklogStatus, PhaseTranscript, Plan
from planners.pipeline.registry import pipelines

logger = logging.getLogger(__name__)


def is_partial(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx and not htmx.boosted)


def actor_name(request: HttpRequest) -> str:
    return request.user.get_username()


SILENCE_CHOICES = [(15, "15 minutes"), (60, "1 hour"), (240, "4 hours"), (1440, "24 hours")]

# --- Cards ------------------------------------------------------------------------------------


def _alerts_context(request: HttpRequest) -> dict[str, Any]:
    filters = queries.AlertFilters.from_params(request.GET)
    return {
        "alerts": queries.alert_listing(filters),
        **_alerts_chrome(request, filters),
    }


def _alerts_chrome(request: HttpRequest, filters: queries.AlertFilters) -> dict[str, Any]:
    """What the alerts card needs besides rows: where its no-JavaScript links lead (the page
    the card sits on) and the choices of its filter and silence forms."""
    current = request.headers.get("HX-Current-URL", "") or request.path
    on_alerts_page = urlsplit(current).path.startswith(reverse("console:alerts"))
    if request.method == "POST":
        on_alerts_page = request.POST.get("next", "").startswith(reverse("console:alerts"))
    return {
        "alerts_query": urlencode(filters.as_query()),
        "alerts_base_url": reverse("console:alerts" if on_alerts_page else "console:dashboard"),
        "severities": Severity.choices,
        "alert_states": queries.ALERT_STATES,
        "silence_choices": SILENCE_CHOICES,
    }


def _planners_context(request: HttpRequest) -> dict[str, Any]:
    return {"planner_rows": queries.planner_rows()}


def _resume_form_fields(request: HttpRequest, filters: queries.BacklogFilters) -> SafeString:
    """The hidden fields every row's Resume form carries (the CSRF token, where to come back
    to, the card's filters), built once per page rather than once per row."""
    query = urlencode(filters.as_query(page=filters.page))
    back = reverse("console:dashboard") + (f"?{query}" if query else "") + "#card-backlog"
    fields = [("csrfmiddlewaretoken", get_token(request)), ("next", back)]
    fields += list(filters.as_query(page=filters.page).items())
    return format_html_join(
        "", '<input type="hidden" name="{}" value="{}">', ((name, value) for name, value in fields)
    )


def _backlog_context(
    request: HttpRequest, params: Any = None, plan_counts: list[queries.PlanCounts] | None = None
) -> dict[str, Any]:
    filters = queries.BacklogFilters.from_params(params if params is not None else request.GET)
    if plan_counts is None:
        plan_counts = queries.plans_with_counts()
    page, rows = queries.backlog_page(filters, plan_counts=plan_counts)
    return {
        "backlog_resume_fields": _resume_form_fields(request, filters),
        "backlog_filters": filters,
        "backlog_query": urlencode(filters.as_query(page=filters.page)),
        "plan_counts": plan_counts,
        "plan_count_rows": plan_table.plan_count_rows(plan_counts, selected=filters.plan_id),
        "plan_options": plan_table.plan_options(plan_counts, selected=filters.plan_id),
        "backlog_page": page,
        "backlog_rows": rows,
        "prev_page_query": urlencode(filters.as_query(page=page.number - 1))
        if page.has_previous()
        else None,
        "next_page_query": urlencode(filters.as_query(page=page.number + 1))
        if page.has_next()
        else None,
        "statuses": BacklogStatus.choices,
        "phases": pipelines.phase_labels(),
    }


def _stale_context(
    request: HttpRequest, report: PlannerHealthReport | None = None
) -> dict[str, Any]:
    seconds = settings.HEALTH_STALE_BACKLOG_SECONDS
    label = f"{seconds // 3600} h" if seconds % 3600 == 0 else f"{max(1, seconds // 60)} min"
    return {
        "stale_and_orphaned": queries.stale_and_orphaned(report=report),
        "stale_after_label": label,
    }


def _transitions_context(request: HttpRequest) -> dict[str, Any]:
    return {"transitions": queries.recent_transitions()}


def _action_log_context(request: HttpRequest) -> dict[str, Any]:
    return {"action_log": queries.recent_actions()}


def _telemetry_context(request: HttpRequest) -> dict[str, Any]:
    now = timezone.now()
    telemetry = queries.execution_telemetry(now)
    return {"telemetry": telemetry, "chart": hourly_chart(telemetry.hourly, now=now)}


def _failures_context(request: HttpRequest) -> dict[str, Any]:
    return {"failures": queries.recent_failures()}


@dataclass(frozen=True)
class Card:
    slug: str
    title: str
    template: str
    context: Callable[[HttpRequest], dict[str, Any]]


CARDS: dict[str, Card] = {
    card.slug: card
    for card in (
        Card("alerts", "Alerts", "console/partials/alerts.html", _alerts_context),
        Card(
            "planners", "Planners & templates", "console/partials/planners.html", _planners_context
        ),
        Card("backlog", "Backlog by plan", "console/partials/backlog.html", _backlog_context),
        Card("stale", "Stale & orphaned items", "console/partials/stale.html", _stale_context),
        Card(
            "transitions",
            "Recent transitions",
            "console/partials/transitions.html",
            _transitions_context,
        ),
        Card("action-log", "Action log", "console/partials/action_log.html", _action_log_context),
        Card(
            "telemetry",
            "Execution telemetry",
            "console/partials/telemetry.html",
            _telemetry_context,
        ),
        Card("failures", "Recent failures", "console/partials/failures.html", _failures_context),
    )
}


def _counters_context(plan_counts: list[queries.PlanCounts] | None = None) -> dict[str, Any]:
    if plan_counts is None:
        plan_counts = queries.plans_with_counts()
    return {
        "nav_firing_count": queries.firing_alert_count(),
        "backlog_totals": queries.backlog_totals(plan_counts),
    }


@staff_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    # One report per request: the banner and the stale & orphaned card read the same one.
    report = build_health_report()
    # Likewise one count of every plan's items for the counters strip and the backlog card.
    plan_counts = queries.plans_with_counts()
    context: dict[str, Any] = {"health": health_summary(report=report)}
    context.update(_counters_context(plan_counts))
    for card in CARDS.values():
        if card.slug == "stale":
            context.update(_stale_context(request, report))
        elif card.slug == "backlog":
            context.update(_backlog_context(request, plan_counts=plan_counts))
        else:
            context.update(card.context(request))
    return render(request, "console/dashboard.html", context)


@staff_required
@require_GET
def health_banner(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"health": health_summary()}
    context.update(_counters_context())
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
    context = found.context(request)
    context["nav_firing_count"] = queries.firing_alert_count()
    if is_partial(request):
        return render(request, found.template, context)
    context.update(card=found)
    return render(request, "console/card_page.html", context)


# --- Alerts page and actions ------------------------------------------------------------------


@staff_required
@require_GET
def alerts_page(request: HttpRequest) -> HttpResponse:
    context = _alerts_context(request)
    if is_partial(request):
        return render(request, "console/partials/alerts.html", context)
    context.update(_counters_context())
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
    filters = queries.AlertFilters.from_params(request.POST)
    context: dict[str, Any] = {
        "alerts": queries.alert_listing(filters),
        **_alerts_chrome(request, filters),
        "notice": notice,
        "notice_is_error": error,
        "oob": True,
    }
    context.update(_counters_context())
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
    context = _backlog_context(request, request.POST)
    context.update(
        _counters_context(context["plan_counts"]), notice=notice, notice_is_error=error, oob=True
    )
    return render(request, "console/partials/backlog_action.html", context)


# --- Plans and transcripts --------------------------------------------------------------------


@staff_required
@require_GET
def plan_list(request: HttpRequest) -> HttpResponse:
    context = {
        "plan_counts": queries.plans_with_counts(),
        "statuses": BacklogStatus.choices,
        "nav_firing_count": queries.firing_alert_count(),
    }
    return render(request, "console/plan_list.html", context)


def _progress_context(plan: Plan, *, watching: bool) -> dict[str, Any]:
    progress = queries.plan_progress(plan)
    running = queries.plan_is_running(progress)
    pending = any(c.get(BacklogStatus.PENDING) for c in progress.values())
    live = running or (watching and pending)
    phases = []
    for phase, label in queries.plan_phase_labels(plan):
        counts = progress.get(phase, {})
        view = queries.PhaseView(phase, str(label), counts, [], [], 0, [])
        phases.append(
            {
                "phase": phase,
                "label": label,
                "status": view.status,
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
        phases=queries.plan_phases(plan),
        nav_firing_count=queries.firing_alert_count(),
        plan_admin_url=queries.admin_url("planners_plan_change", plan.pk),
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
    return render(request, "console/partials/plan_progress.html", context)


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
    return render(request, "console/partials/plan_progress.html", context)


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
        "nav_firing_count": queries.firing_alert_count(),
        "execution_admin_url": queries.admin_url(
            "planners_plannerexecution_change", transcript.execution_id
        )
        if transcript.execution_id
        else "",
    }
    return render(request, "console/transcript_detail.html", context)
