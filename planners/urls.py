from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("planners.api_urls")),
    path("", include("planners.console.urls")),
    path("", include("planners.rollouts.urls")),
]
