from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from planners import api_views

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "api/diagnostics/planner",
        api_views.planner_diagnostics,
        name="api-diagnostics-planner",
    ),
    path(
        "api/rollouts/<str:planner>/<str:environment>/gate",
        api_views.rollout_gate,
        name="api-rollout-gate",
    ),
]
