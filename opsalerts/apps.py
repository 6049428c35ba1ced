from __future__ import annotations

from django.apps import AppConfig


class OpsAlertsConfig(AppConfig):
    name = "opsalerts"
    verbose_name = "Ops alerting"
    default_auto_field = "django.db.models.BigAutoField"
