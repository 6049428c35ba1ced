"""What every rollout console view shares: resolving the URL's planner and environment, the
checklist page's context (with its gate), and answering a POST.

Every POST answers an HTMX request with the re-rendered checklist fragment (``#checklist``), so
counters, the gate, the sign-off panel and the item all stay current without a page reload;
without JavaScript the same forms post normally and are redirected back to the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from planners.framework.errors import UnknownPlannerError
from planners.framework.metadata import PlannerMetadata
from planners.models.rollout import (
    ChecklistItem,
    Environment,
    ItemStatus,
    RolloutChecklist,
)
from planners.rollouts import actions, runbook
from planners.rollouts.forms import SignOffForm
from planners.rollouts.gate import gate_for_checklist
from planners.rollouts.queries import checklist_status


def is_partial(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted  # type: ignore[union-attr]


def actor_name(request: HttpRequest) -> str:
    return request.user.get_username()


def resolve(planner: str, environment: str) -> tuple[PlannerMetadata, Environment]:
    try:
        meta = actions.planner_metadata(planner)
        env = actions.get_environment(environment)
    except (UnknownPlannerError, actions.RolloutError) as exc:
        raise Http404(str(exc)) from exc
    return meta, env


def load_checklist(planner: str, env: Environment) -> RolloutChecklist | None:
    return (
        RolloutChecklist.objects.select_related("environment", "sign_off", "watch")
        .filter(planner_slug=planner, environment=env)
        .first()
    )


def checklist_context(
    request: HttpRequest,
    meta: PlannerMetadata,
    env: Environment,
    *,
    notice: str = "",
    notice_is_error: bool = False,
    sign_off_form: SignOffForm | None = None,
) -> dict[str, Any]:
    checklist = load_checklist(meta.slug, env)
    items: list[ChecklistItem] = list(checklist.items.all()) if checklist is not None else []
    problems = (
        actions.sign_off_problems(checklist, request.user, items=items)  # type: ignore[arg-type]
        if checklist is not None and not checklist.is_signed_off
        else []
    )
    gate = gate_for_checklist(
        checklist, planner=meta.slug, environment=env, items=items, problems=problems
    )
    return {
        "planner": meta,
        "environment": env,
        "checklist": checklist,
        "items": items,
        "item_sections": item_sections(items),
        "gate": gate,
        "runbook_url": reverse("rollouts:runbook"),
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


@dataclass(frozen=True)
class ItemSection:
    name: str
    runbook_url: str
    items: list[ChecklistItem]


def item_sections(items: list[ChecklistItem]) -> list[ItemSection]:
    """The items grouped by runbook section, in order, each with its section's link."""
    url = reverse("rollouts:runbook")
    sections: list[ItemSection] = []
    for item in items:
        if not sections or sections[-1].name != item.section:
            anchor = runbook.heading_anchor(item.section)
            sections.append(ItemSection(item.section, f"{url}#{anchor}", []))
        sections[-1].items.append(item)
    return sections


def respond(
    request: HttpRequest,
    meta: PlannerMetadata,
    env: Environment,
    notice: str,
    *,
    error: bool = False,
    sign_off_form: SignOffForm | None = None,
) -> HttpResponse:
    """HTMX: the fresh checklist fragment with the notice. Plain form post: back to the page."""
    if is_partial(request):
        context = checklist_context(
            request, meta, env, notice=notice, notice_is_error=error, sign_off_form=sign_off_form
        )
        return render(request, "rollouts/partials/checklist.html", context)
    if error:
        context = checklist_context(
            request, meta, env, notice=notice, notice_is_error=True, sign_off_form=sign_off_form
        )
        return render(request, "rollouts/checklist.html", context, status=400)
    messages.success(request, notice)
    return redirect("rollouts:checklist", meta.slug, env.name)


def checklist_item(meta: PlannerMetadata, env: Environment, key: str) -> ChecklistItem:
    return get_object_or_404(
        ChecklistItem.objects.select_related("checklist__environment"),
        checklist__planner_slug=meta.slug,
        checklist__environment=env,
        key=key,
    )
