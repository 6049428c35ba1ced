"""The alerts of design.md §4, derived from the report's sections (no queries here).

Each rule is a small registered function in the module of its section (``ops_alerts``,
``template_alerts``,
``backlog_alerts``, ``telemetry_alerts``); ``derive_alerts`` runs them all in a stable order
(see ``planners.health.alert_rules``).
"""

from __future__ import annotations

from collections.abc import Sequence

# Imported for their registrations: each module's rules register themselves.
from cognition.liveness import Liveness
from planners.health import (  # noqa: F401
    backlog_alerts,
    ops_alerts,
    telemetry_alerts,
    template_alerts,
)
from planners.health.alert_rules import AlertFacts, AlertThresholds, registered_rules
from planners.health.report import BacklogSection, HealthAlert, PlannerState
from planners.health.telemetry_section import TelemetrySection


def derive_alerts(
    planners: Sequence[PlannerState],
    backlog: BacklogSection,
    telemetry: TelemetrySection,
    thresholds: AlertThresholds,
    liveness: Liveness,
) -> tuple[HealthAlert, ...]:
    facts = AlertFacts(
        planners=planners,
        backlog=backlog,
        telemetry=telemetry,
        thresholds=thresholds,
        liveness=liveness,
    )
    return tuple(alert for rule in registered_rules() for alert in rule(facts))
