from __future__ import annotations

from django.urls import path

from opsalerts import views

app_name = "opsalerts"

urlpatterns = [
    path("alerts/ack/<str:token>/", views.ack_link, name="ack-link"),
    path("api/alerts/<path:dedup_key>/ack", views.api_ack, name="api-ack"),
]
