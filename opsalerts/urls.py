from __future__ import annotations

from django.urls import path

from opsalerts import integration_views, views

app_name = "opsalerts"

urlpatterns = [
    path("alerts/ack/<str:token>/", views.ack_link, name="ack-link"),
    path("api/alerts/<path:dedup_key>/ack", views.api_ack, name="api-ack"),
    path(
        "integrations/pagerduty/",
        integration_views.pagerduty_webhook,
        name="pagerduty-webhook",
    ),
    path("integrations/slack/actions", integration_views.slack_actions, name="slack-actions"),
]
