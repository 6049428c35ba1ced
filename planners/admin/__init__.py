"""Admin registrations, one module per area."""

from planners.admin import pipeline, rollout  # noqa: F401
