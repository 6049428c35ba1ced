from __future__ import annotations

from django.urls import path
from django.views.generic import RedirectView

from planners.console.views import alerts, backlog, dashboard, live, plans

app_name = "console"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="console:dashboard"), name="home"),
    path("operations/backlog-telemetry/", dashboard.dashboard, name="dashboard"),
    path("operations/backlog-telemetry/health/", dashboard.health_banner, name="health"),
    path("operations/backlog-telemetry/cards/<slug:slug>/", dashboard.card, name="card"),
    path("operations/backlog-telemetry/live/", live.live, name="live"),
    path("alerts/", alerts.alerts_page, name="alerts"),
    path("alerts/<int:pk>/acknowledge/", alerts.acknowledge, name="acknowledge"),
    path("alerts/silence/", alerts.silence, name="silence"),
    path("backlog/<int:pk>/resume/", backlog.resume, name="resume"),
    path("plans/", plans.plan_list, name="plans"),
    path("plans/<int:pk>/", plans.plan_detail, name="plan"),
    path("plans/<int:pk>/progress/", plans.plan_progress, name="plan-progress"),
    path("plans/<int:pk>/run/", plans.run_pipeline, name="run-pipeline"),
    path("transcripts/<int:pk>/", plans.transcript_detail, name="transcript"),
]
