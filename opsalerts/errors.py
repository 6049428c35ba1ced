"""The one refusal the Ops alerting writes raise to an operator."""

from __future__ import annotations


class OpsAlertingError(Exception):
    """An operator-facing refusal (bad configuration, unknown planner, ...)."""
