"""Bounded alert history: old alert events and delivery attempts go, unless still needed.

Alerts themselves stay (one row per dedup key, updated in place); what grows is their event
log, their deliveries (one row per notification: Alertmanager's re-posts add one every few
minutes) and the attempt log of those deliveries. An alert that has not resolved (firing or
acknowledged) keeps all of it: its story is still being written. So does an alert a rollout
checklist's evidence names (``evidence_keys``, passed in by ``planners.rollouts.retention``, as
rollouts sit above this app), and a delivery still being retried keeps its attempts.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from cognition.retention import ROLLOUT_EVIDENCE, BatchBounds, Keep, PruneResult, prune_rows
from opsalerts.models import Alert, AlertEvent, Delivery, DeliveryAttempt

UNRESOLVED = [Alert.Status.FIRING, Alert.Status.ACKNOWLEDGED]
IN_FLIGHT = [Delivery.Status.PENDING, Delivery.Status.FAILED]

ALERT_NOT_RESOLVED = "alert not resolved"
DELIVERY_IN_FLIGHT = "delivery still being retried"


def prune_alert_events(
    *,
    now: datetime,
    evidence_keys: Collection[str] = (),
    dry_run: bool = False,
    bounds: BatchBounds | None = None,
) -> PruneResult:
    days = settings.RETAIN_ALERT_EVENTS_DAYS
    old = AlertEvent.objects.filter(created_at__lt=now - timedelta(days=days))
    keep = [
        Keep(ALERT_NOT_RESOLVED, Q(alert__status__in=UNRESOLVED)),
        Keep(ROLLOUT_EVIDENCE, Q(alert__dedup_key__in=list(evidence_keys))),
    ]
    return prune_rows("alert events", old, keep, retain_days=days, dry_run=dry_run, bounds=bounds)


def prune_delivery_attempts(
    *,
    now: datetime,
    evidence_keys: Collection[str] = (),
    dry_run: bool = False,
    bounds: BatchBounds | None = None,
) -> PruneResult:
    days = settings.RETAIN_DELIVERY_ATTEMPTS_DAYS
    old = DeliveryAttempt.objects.filter(created_at__lt=now - timedelta(days=days))
    keep = _still_needed_deliveries(evidence_keys, via="delivery__")
    return prune_rows(
        "delivery attempts", old, keep, retain_days=days, dry_run=dry_run, bounds=bounds
    )


def prune_deliveries(
    *,
    now: datetime,
    evidence_keys: Collection[str] = (),
    dry_run: bool = False,
    bounds: BatchBounds | None = None,
) -> PruneResult:
    """Old notifications, with what is left of their attempt log, once nothing needs them."""
    days = settings.RETAIN_DELIVERY_ATTEMPTS_DAYS
    old = Delivery.objects.filter(created_at__lt=now - timedelta(days=days))
    keep = _still_needed_deliveries(evidence_keys, via="")
    return prune_rows("deliveries", old, keep, retain_days=days, dry_run=dry_run, bounds=bounds)


def _still_needed_deliveries(evidence_keys: Collection[str], *, via: str) -> list[Keep]:
    """What keeps a delivery (``via=""``) or its attempts (``via="delivery__"``): an alert of
    it not resolved, an alert a checklist's evidence names, or its retries still going.
    Deliveries link to alerts many-to-many: subqueries, so that no row counts twice."""
    unresolved = Delivery.objects.filter(alerts__status__in=UNRESOLVED).values("pk")
    named = Delivery.objects.filter(alerts__dedup_key__in=list(evidence_keys)).values("pk")
    return [
        Keep(ALERT_NOT_RESOLVED, Q(**{f"{via}pk__in": unresolved})),
        Keep(ROLLOUT_EVIDENCE, Q(**{f"{via}pk__in": named})),
        Keep(DELIVERY_IN_FLIGHT, Q(**{f"{via}status__in": IN_FLIGHT})),
    ]
