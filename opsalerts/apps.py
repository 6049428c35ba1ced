from __future__ import annotations

from django.apps import AppConfig


class OpsAlertsConfig(AppConfig):
    name = "opsalerts"
    verbose_name = "Ops alerting"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from opsalerts import (
            checks,  # noqa: F401  (registers the system check)
            tasks,  # noqa: F401  (registers the task names queued by name)
        )
