from __future__ import annotations

from django.apps import AppConfig


class PlannersConfig(AppConfig):
    name = "planners"
    verbose_name = "Planners: pipeline, backlog, health and rollouts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Importing a family's package registers its planners in the catalog and its pipeline
        # in the registry, so every view, command and task sees them all. The limits and rollout
        # modules register their settings blocks, which the configuration check validates.
        import planners.fiction
        import planners.fiction.pipeline
        import planners.framework.limits
        import planners.nonfiction
        import planners.rollouts.config
        import planners.rollouts.tasks
        import planners.tasks  # noqa: F401  (registers the phase task's name, queued by name)
        from planners.framework.catalog import catalog
        from planners.framework.limits import require_registered_planners
        from planners.rollouts.scaffold import import_planner_packages

        # Planners scaffolded by `startplanner` register here: planners/<package>/planner.py,
        # then its pipeline.py, which may extend the pipelines registered above.
        import_planner_packages()
        require_registered_planners(catalog.slugs)
