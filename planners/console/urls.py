from __future__ import annotations

from django.urls import path
from django.views.generic import RedirectView

from planners.console import views

app_name = "console"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="console:dashboard"), name="home"),
    path("operations/backlog-telemetry/", views.dashboard, name="dashboard"),
    path("operations/backlog-telemetry/health/", views.health_banner, name="health"),
    path("operations/backlog-telemetry/cards/<slug:slug>/", views.card, name="card"),
    path("alerts/", views.alerts_page, name="alerts"),
    path("alerts/<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("alerts/silence/", views.silence, name="silence"),
    path("backlog/<int:pk>/resume/", views.resume, name="resume"),
    path("plans/", views.plan_list, name="plans"),
    path("plans/<int:pk>/", views.plan_detail, name="plan"),
    path("plans/<int:pk>/progress/", views.plan_progress, name="plan-progress"),
    path("plans/<int:pk>/run/", views.run_pipeline, name="run-pipeline"),
    path("transcripts/<int:pk>/", views.transcript_detail, name="transcript"),
]
