"""The errors the planner framework raises, each carrying enough to name the problem.

They are plain exceptions with structured attributes so the console, the management commands and
the Celery tasks can show *which* slug, field or key was wrong instead of a bare traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.core.exceptions import ImproperlyConfigured


class PlannerError(Exception):
    """Base class for planner framework errors."""


class UnknownPlannerError(PlannerError, LookupError):
    """No planner is registered under the slug (or name) asked for."""

    def __init__(self, slug: str, known: Iterable[str], *, kind: str = "slug") -> None:
        self.slug = slug
        self.known = sorted(known)
        listed = ", ".join(self.known) or "none registered"
        super().__init__(f"Unknown planner {kind} {slug!r}; known planners: {listed}.")

    def __str__(self) -> str:
        # LookupError/KeyError-style repr quoting would wrap the message in quotes; keep it plain.
        return str(self.args[0])


class DuplicatePlannerError(PlannerError, ImproperlyConfigured):
    """Two different planner classes claim the same slug, name or template id."""


class PlannerDefinitionError(PlannerError, ImproperlyConfigured):
    """A planner class is malformed (metadata, params model or fallback prompt)."""


class PlannerParamsError(PlannerError, ValueError):
    """The parameters given to ``plan()`` do not validate; ``errors`` name each bad field."""

    def __init__(self, planner_slug: str, errors: Sequence[str]) -> None:
        self.planner_slug = planner_slug
        self.errors = list(errors)
        super().__init__(f"Invalid parameters for planner {planner_slug!r}: " + "; ".join(errors))


class ReplyValidationError(PlannerError, ValueError):
    """A planner's ``parse_reply`` refused the agent's reply; each error names the key at fault.

    The errors are sent back to the agent verbatim for the one repair attempt, so they should be
    written for the model as much as for the operator.
    """

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = [str(e) for e in errors] or ["the reply did not validate"]
        super().__init__("; ".join(self.errors))


class PlannerLimitsError(ImproperlyConfigured):
    """``PLANNER_CRITIQUE`` or ``PLANNER_QUOTAS`` is malformed; ``problems`` lists every issue."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(" ".join(self.problems))
