from __future__ import annotations

from django.apps import AppConfig


class CognitionConfig(AppConfig):
    name = "cognition"
    verbose_name = "Cognition: prompt templates and agent"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import cognition.checks  # noqa: F401  (registers the configuration system check)
