"""The JSON API: planner diagnostics (the health report), for staff and automation."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from cognition.api_auth import staff_api_view
from opsalerts.silences import alert_states
from planners.health import UnknownPlanError, build_health_report

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
