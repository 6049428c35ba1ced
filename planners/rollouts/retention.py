"""Pruning every kind of history at once, keeping what open rollout checklists name.

Each app prunes its own history (``planners.retention``, ``opsalerts.retention``); this module
runs them all because it is the lowest layer that knows what a checklist not yet signed off
still needs as evidence (``evidence_in_use``). ``manage.py prune_history`` and the daily beat
task both call ``prune_history``.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from cognition.retention import BatchBounds, PruneResult
from opsalerts.retention import prune_alert_events, prune_deliveries, prune_delivery_attempts
from planners.retention import (
    prune_executions,
    prune_telemetry_events,
    prune_transcripts,
    prune_transitions,
)
from planners.rollouts.queries import evidence_in_use


def prune_history(
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    bounds: BatchBounds | None = None,
) -> list[PruneResult]:
    """Prune every kind of history; returns what each did (or would do, in a dry run).
    Telemetry events go before runs, so a run's own events are counted as events."""
    now = now or timezone.now()
    evidence = evidence_in_use(settings.DEPLOY_ENVIRONMENT)
    runs, alerts = evidence.execution_ids, evidence.alert_dedup_keys
    return [
        prune_transcripts(now=now, evidence_executions=runs, dry_run=dry_run, bounds=bounds),
        prune_transitions(now=now, dry_run=dry_run, bounds=bounds),
        prune_telemetry_events(now=now, evidence_executions=runs, dry_run=dry_run, bounds=bounds),
        prune_executions(now=now, evidence_executions=runs, dry_run=dry_run, bounds=bounds),
        prune_alert_events(now=now, evidence_keys=alerts, dry_run=dry_run, bounds=bounds),
        prune_delivery_attempts(now=now, evidence_keys=alerts, dry_run=dry_run, bounds=bounds),
        prune_deliveries(now=now, evidence_keys=alerts, dry_run=dry_run, bounds=bounds),
    ]
