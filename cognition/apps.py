from __future__ import annotations

from django.apps import AppConfig


class CognitionConfig(AppConfig):
    name = "cognition"
    verbose_name = "Cognition: prompt templates and agent"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported for their registrations: the configuration system check, and the signal
        # handlers with which workers record their heartbeats.
        import cognition.checks
        import cognition.liveness_recording  # noqa: F401
