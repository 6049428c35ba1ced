"""The action log entry each Ops alerting write leaves (acknowledge, silence, synthetic-alert)."""

from __future__ import annotations

from typing import Any

from planners.models import ActionLogEntry


def log_alerting_action(
    action: str, *, actor: str, target: str, detail: dict[str, Any], environment: str
) -> None:
    ActionLogEntry.objects.create(
        action=action, actor=actor, target=target[:300], detail=detail, environment=environment
    )
