"""System checks for the planner framework's settings and registered planners.

Registered under the ``planners`` tag; ``manage.py check``, ``runserver`` and every management
command run them, and ``PlannersConfig`` runs them when a Celery worker starts, so a bad
``PLANNER_CRITIQUE`` / ``PLANNER_QUOTAS`` stops start-up with a message naming the variable and key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.checks import CheckMessage, Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

from planners.framework.catalog import catalog
from planners.framework.limits import CRITIQUE_SETTING, limit_problems

PLANNERS_TAG = "planners"


@register(PLANNERS_TAG, Tags.compatibility)
def check_planner_limits(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[Error]:
    """Every problem with PLANNER_CRITIQUE and PLANNER_QUOTAS, one error each."""
    errors = []
    for problem in limit_problems(known_slugs=catalog.slugs()):
        setting = "critique" if problem.startswith(CRITIQUE_SETTING) else "quotas"
        errors.append(
            Error(
                problem,
                hint="Unset limits mean unlimited; a set limit is a positive whole number.",
                obj=f"settings.{problem.split(':', 1)[0]}",
                id="planners.E001" if setting == "critique" else "planners.E002",
            )
        )
    return errors


def refuse_bad_configuration(**kwargs: Any) -> None:
    """Stop a starting Celery worker when the planner settings are invalid.

    Celery's Django fixup runs the system checks but only logs them, and ``worker_init``
    handlers' exceptions are swallowed, so this exits the process itself (``SystemExit`` is not
    caught by Celery's signal dispatch).
    """
    from django.core.checks import run_checks

    messages: list[CheckMessage] = [m for m in run_checks(tags=[PLANNERS_TAG]) if m.is_serious()]
    if messages:
        text = "\n".join(f"{m.id}: {m.msg}" for m in messages)
        raise SystemExit(f"Refusing to start: invalid planner configuration:\n{text}")


def raise_on_bad_configuration() -> None:
    """The same check for callers that prefer an exception (``ImproperlyConfigured``)."""
    problems = limit_problems(known_slugs=catalog.slugs())
    if problems:
        raise ImproperlyConfigured(" ".join(problems))
