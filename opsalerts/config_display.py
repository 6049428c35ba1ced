"""The resolved Ops alerting configuration as people read it (``check_ops_alerting``): every
value, each route with its channel, and every secret and credential masked."""

from __future__ import annotations

from typing import Any

from opsalerts.config import OpsAlertingConfig
from opsalerts.config_formats import mask_secret, mask_url, shown_routing_key


def describe_ops_alerting(config: OpsAlertingConfig) -> dict[str, Any]:
    """The resolved configuration for people, with the secret masked."""
    return {
        "enabled": config.enabled,
        "environment": config.environment,
        "source": config.source,
        "channel": config.channel,
        "webhook_url": mask_url(config.webhook_url),
        "routing_key": shown_routing_key(config.channel, config.routing_key),
        "debounce_seconds": config.debounce_seconds,
        "repeat_seconds": config.repeat_seconds,
        "severity_filter": sorted(config.severity_filter) or "all",
        "routes": [
            {
                "match": r.match,
                "channel": r.channel,
                "webhook_url": mask_url(r.target_url),
                "routing_key": shown_routing_key(r.channel, r.routing_key),
            }
            for r in config.routes
        ],
        "slo_thresholds": dict(config.slo_thresholds),
        "signing_secret": mask_secret(config.signing_secret),
        "timeout_seconds": config.timeout_seconds,
        "max_attempts": config.max_attempts,
        "ack_ttl_seconds": config.ack_ttl_seconds,
        "public_base_url": config.public_base_url,
        "pagerduty_webhook_secret": mask_secret(config.pagerduty_webhook_secret),
        "slack_signing_secret": mask_secret(config.slack_signing_secret),
    }
