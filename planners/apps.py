from __future__ import annotations

from django.apps import AppConfig


class PlannersConfig(AppConfig):
    name = "planners"
    verbose_name = "Planners: pipeline, backlog, health and rollouts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Importing a family's package registers its planners in the catalog and its pipeline
        # in the registry, so every view, command and task sees them all; the checks module
        # registers the system checks for the planner settings.
        from celery.signals import worker_init

        import planners.checks
        import planners.fiction
        import planners.fiction.pipeline
        import planners.nonfiction

        # Connects the post_save receiver that keeps orphans current.
        import planners.pipeline.unproduced_inputs
        import planners.rollouts.tasks  # registers the daily history prune for beat
        import planners.tasks  # registers the phase task's name, which the scheduler queues by
        from planners.rollouts.scaffold import import_planner_packages

        # Planners scaffolded by `startplanner` register here: planners/<package>/planner.py,
        # then its pipeline.py, which may extend the pipelines registered above.
        import_planner_packages()

        worker_init.connect(planners.checks.refuse_bad_configuration, weak=False)
