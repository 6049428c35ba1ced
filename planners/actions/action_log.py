"""The action log entry every operator action writes."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from planners.models import (
    ActionLogEntry,
    BacklogItem,
)

logger = logging.getLogger(__name__)


def _admin_url(obj: Any) -> str:
    try:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""


def log_action(
    action: str, *, actor: str, target: Any, detail: dict[str, Any], label: str = ""
) -> ActionLogEntry:
    """One action log entry; ``target`` is the model instance acted on (linked in the admin)."""
    return ActionLogEntry.objects.create(
        action=action,
        actor=actor,
        target=(label or str(target))[:300],
        target_url=_admin_url(target),
        detail=detail,
        environment=settings.DEPLOY_ENVIRONMENT,
    )


def item_label(item: BacklogItem) -> str:
    return f"plan {item.plan_id} / {item.backlog_id}"
