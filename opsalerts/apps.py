from __future__ import annotations

from django.apps import AppConfig


class OpsAlertsConfig(AppConfig):
    name = "opsalerts"
    verbose_name = "Ops alerting"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from opsalerts import (
            config,  # noqa: F401  (registers the Ops alerting settings block)
            tasks,  # noqa: F401  (registers the task names queued by name)
            unrouted,  # noqa: F401  (the unrouted-severity check and report alert)
        )
