from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from planners import api_views

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "api/diagnostics/planner",
        api_views.planner_diagnostics,
        name="api-diagnostics-planner",
    ),
]
