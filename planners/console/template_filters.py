"""The console's template filters, built into every template (settings: TEMPLATES builtins)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from planners.pipeline.registry import pipelines

register = template.Library()

JUST_NOW = timedelta(minutes=1)


@register.filter
def ago(value: datetime | None) -> str:
    """ "just now" under a minute, else "5 minutes ago" (never "0 minutes ago")."""
    if value is None:
        return "never"
    if timezone.now() - value < JUST_NOW:
        return "just now"
    return f"{timesince(value)} ago"


@register.filter
def as_json(value: Any) -> str:
    """A JSON value laid out for reading: indented, keys in order, non-ASCII kept."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def phase_label(phase: str) -> str:
    """A phase key's title in its pipeline ("sceneWeaver" → "Scene Weaver"), else the key."""
    return dict(pipelines.phase_labels()).get(phase, phase)
