"""The JSON API for staff and automation: planner diagnostics (the health report) and the
rollout gate a deploy pipeline waits on."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from cognition.api_auth import staff_api_view
from opsalerts.silences import alert_states
from planners.framework.errors import UnknownPlannerError
from planners.health import UnknownPlanError, build_health_report
from planners.rollouts.actions import RolloutError
from planners.rollouts.gate import gate_for

MAX_ID = 2**63 - 1  # beyond a bigint the database would raise instead of finding nothing


@staff_api_view
@require_GET
def planner_diagnostics(request: HttpRequest) -> HttpResponse:
    """``GET /api/diagnostics/planner[?plan=<id>]``: the planner health report as JSON."""
    raw_plan = request.GET.get("plan", "").strip()
    plan_id: int | None = None
    if raw_plan:
        try:
            plan_id = int(raw_plan)
        except ValueError:
            return JsonResponse(
                {
                    "error": "invalid_plan",
                    "detail": f"plan must be a whole number, got {raw_plan!r}.",
                },
                status=400,
            )
    try:
        if plan_id is not None and not 0 < plan_id <= MAX_ID:
            raise UnknownPlanError(plan_id)
        report = build_health_report(plan_id=plan_id)
    except UnknownPlanError as exc:
        return JsonResponse({"error": "unknown_plan", "detail": str(exc)}, status=404)
    data = report.to_dict()
    # Ops alerts by state as the console counts them (firing means firing and not silenced).
    data["ops_alerts"] = alert_states(count_resolved=True).counts
    response = JsonResponse(data)
    response["Cache-Control"] = "no-store"
    return response


@staff_api_view
@require_GET
def rollout_gate(request: HttpRequest, planner: str, environment: str) -> HttpResponse:
    """``GET /api/rollouts/<planner>/<environment>/gate``: is the gate open, and why not.

    ``ok`` only when the environment is signed off and its watch has passed; 404 JSON for a
    planner or environment that does not exist.
    """
    try:
        gate = gate_for(planner, environment)
    except UnknownPlannerError as exc:
        return JsonResponse({"error": "unknown_planner", "detail": str(exc)}, status=404)
    except RolloutError as exc:
        return JsonResponse({"error": "unknown_environment", "detail": str(exc)}, status=404)
    response = JsonResponse(gate.to_dict())
    response["Cache-Control"] = "no-store"
    return response
