from __future__ import annotations

from django.apps import AppConfig


class CognitionConfig(AppConfig):
    name = "cognition"
    verbose_name = "Cognition: prompt templates and agent"
    default_auto_field = "django.db.models.BigAutoField"
