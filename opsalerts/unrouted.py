"""Alerts no route can deliver: a system check warning before, an event and a report alert after.

With ``OPS_ALERTING_ROUTES`` and no default (neither ``OPS_ALERTING_WEBHOOK_URL`` nor a
``default`` route), an alert whose id and severity match no rule has nowhere to go. Nothing is
dropped in silence: ``manage.py check`` and ``check_ops_alerting`` warn about the severities
that can match no route (``opsalerts.W001``); evaluation records an ``undeliverable`` event on
such an alert; and the health report raises ``ops:undeliverable-alerts`` naming them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Warning as CheckWarning

from opsalerts.config import OpsAlertingConfig, Route, parse_ops_alerting
from opsalerts.models import Alert
from planners.health.alert_rules import names
from planners.health.alert_sources import alert_source
from planners.health.report import HealthAlert, Severity

UNDELIVERABLE_ALERT_ID = "ops:undeliverable-alerts"


def _catches_all_of(route: Route, severity: str) -> bool:
    return route.match in ("default", "alert:*", f"severity:{severity}")


def severities_without_route(config: OpsAlertingConfig) -> list[str]:
    """Delivered severities for which some alert can match no route, when there is no default."""
    if not config.enabled or config.default_route() is not None:
        return []
    return [
        severity.value
        for severity in Severity
        if config.delivers_severity(severity.value)
        and not any(_catches_all_of(route, severity.value) for route in config.routes)
    ]


def unrouted_severities_message(severities: list[str]) -> str:
    return (
        f"OPS_ALERTING_ROUTES: alerts of severity {', '.join(severities)} can match no route and "
        'there is no default (a "default" route or OPS_ALERTING_WEBHOOK_URL); such alerts are '
        "not delivered."
    )


@register(Tags.compatibility)
def check_unrouted_severities(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    config, problems = parse_ops_alerting()
    severities = [] if problems else severities_without_route(config)
    if not severities:
        return []
    return [
        CheckWarning(
            unrouted_severities_message(severities),
            hint='Add {"match": "default", "webhook_url": ...} last in OPS_ALERTING_ROUTES.',
            id="opsalerts.W001",
        )
    ]


@alert_source
def undeliverable_alerts(now: datetime) -> list[HealthAlert]:
    """``ops:undeliverable-alerts`` naming the firing alerts no route matches. No query when
    every severity has a route."""
    config, problems = parse_ops_alerting()
    severities = [] if problems else severities_without_route(config)
    if not severities:
        return []
    firing = Alert.objects.filter(
        status=Alert.Status.FIRING, severity__in=severities, synthetic=False
    ).exclude(alert_id=UNDELIVERABLE_ALERT_ID)
    stranded = [
        alert for alert in firing if config.route_for(alert.alert_id, alert.severity) is None
    ]
    if not stranded:
        return []
    labels = sorted(f"{alert.alert_id} ({alert.severity})" for alert in stranded)
    return [
        HealthAlert(
            id=UNDELIVERABLE_ALERT_ID,
            severity=Severity.WARNING,
            title=f"{len(stranded)} firing alert(s) match no route",
            description=(
                f"Not delivered, no route matches: {names(labels, len(labels))}. Add a route "
                'for them or a {"match": "default", ...} route to OPS_ALERTING_ROUTES.'
            ),
        )
    ]
