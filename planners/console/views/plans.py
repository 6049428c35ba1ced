"""Plans and transcripts: the plan list, a plan's page with its live progress, running its
pipeline, and one transcript."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from cognition.access import staff_required
from opsalerts.silences import alert_states
from planners.actions import start_fresh_run, start_pipeline
from planners.console.cards import plans as plan_cards
from planners.console.cards.plans import plans_with_counts
from planners.console.links import admin_url
from planners.console.views.common import actor_name, is_partial
from planners.models import BacklogStatus, PhaseTranscript, Plan
from planners.pipeline.registry import pipelines

logger = logging.getLogger(__name__)


@staff_required
@require_GET
def plan_list(request: HttpRequest) -> HttpResponse:
    context = {
        "plan_counts": plans_with_counts(),
        "statuses": BacklogStatus.choices,
        "nav_firing_count": alert_states().firing,
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
    context.update(_plan_sections(plan))
    context.update(plan_admin_url=admin_url("planners_plan_change", plan.pk))
    return render(request, "console/plan_detail.html", context)


def _plan_sections(plan: Plan) -> dict[str, Any]:
    """What the plan page shows below its progress: the family's records (its outputs) and each
    phase's items and transcripts, with the nav badge."""
    pipeline = pipelines.get(plan.pipeline) if plan.pipeline in pipelines else None
    context: dict[str, Any] = {
        "pipeline": pipeline,
        "phases": plan_cards.plan_phases(plan),
        "nav_firing_count": alert_states().firing,
    }
    if pipeline is not None and pipeline.records_template and pipeline.records_context:
        # The family's records partial reads its own names (brief, scrolls...) from the page.
        context.update(pipeline.records_context(plan), records_template=pipeline.records_template)
    return context


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
            context.update(notice="The pipeline finished.")
    if watching or context["live"]:
        # While a run goes (and once more as it ends) its transcripts and outputs come along.
        context.update(_plan_sections(plan), phase_oob=True)
        return render(request, "console/partials/plan_live.html", context)
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
        "nav_firing_count": alert_states().firing,
        "execution_admin_url": admin_url(
            "planners_plannerexecution_change", transcript.execution_id
        )
        if transcript.execution_id
        else "",
    }
    return render(request, "console/transcript_detail.html", context)
