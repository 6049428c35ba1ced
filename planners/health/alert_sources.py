"""Alerts about things the health layer does not own, contributed from the layers above.

Ops alerting registers a source here (``opsalerts.unrouted``): the health report names alerts
that no route can deliver, but only ops alerting knows routes. A source is called once per
report, may read the database, and should cost nothing when there is nothing to say.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from planners.health.report import HealthAlert

AlertSource = Callable[[datetime], list[HealthAlert]]

_SOURCES: list[AlertSource] = []


def alert_source(source: AlertSource) -> AlertSource:
    """Register ``source``; its alerts follow the report's own, in registration order."""
    _SOURCES.append(source)
    return source


def alerts_from_sources(now: datetime) -> list[HealthAlert]:
    return [alert for source in _SOURCES for alert in source(now)]
