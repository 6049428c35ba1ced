from __future__ import annotations

from django.apps import AppConfig


class PlannersConfig(AppConfig):
    name = "planners"
    verbose_name = "Planners: pipeline, backlog, health and rollouts"
    default_auto_field = "django.db.models.BigAutoField"
