"""The registry of health alert rules (design.md §4) and what every rule reads.

A rule is a small function from the report's sections (``AlertFacts``) to the alerts of one
condition; it registers itself with ``@alert_rule(section)``. ``planners.health.alerts`` runs
them: section by section in ``SECTIONS`` order, and within a section in the order the rules were
registered (top to bottom of their module). No rule queries the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from cognition.liveness import Liveness
from planners.health.report import BacklogSection, HealthAlert, PlannerState
from planners.health.telemetry_section import TelemetrySection

#: The order the report lists alerts in: the workers and beat, templates, the backlog, telemetry.
SECTIONS = ("ops", "templates", "backlog", "telemetry")


@dataclass(frozen=True)
class AlertThresholds:
    stale_seconds: int
    failure_window_seconds: int
    flapping_transitions: int
    flapping_window_seconds: int
    drift_window_seconds: int


@dataclass(frozen=True)
class AlertFacts:
    """Everything a rule may look at: the report's sections and the thresholds."""

    planners: Sequence[PlannerState]
    backlog: BacklogSection
    telemetry: TelemetrySection
    thresholds: AlertThresholds
    liveness: Liveness


AlertRule = Callable[[AlertFacts], list[HealthAlert]]

_RULES: dict[str, list[AlertRule]] = {section: [] for section in SECTIONS}


def alert_rule(section: str) -> Callable[[AlertRule], AlertRule]:
    """Register a rule under ``section`` (one of ``SECTIONS``)."""
    if section not in _RULES:
        raise ValueError(f"unknown alert section {section!r}; expected one of {SECTIONS}")

    def register(rule: AlertRule) -> AlertRule:
        _RULES[section].append(rule)
        return rule

    return register


def registered_rules() -> list[AlertRule]:
    """Every registered rule, in the order the report lists their alerts."""
    return [rule for section in SECTIONS for rule in _RULES[section]]


def duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{int(seconds)} s"


def names(items: Iterable[str], total: int, *, limit: int = 5) -> str:
    """The first few names and how many more: alert text stays readable in a pager."""
    shown = list(items)[:limit]
    more = total - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
