"""The synthetic alert drill: the runbook's evidence that an alert reaches its channel and is
acknowledged there.

A trigger forces a stale synthetic backlog entry for a planner, evaluates, and delivers the
synthetic alert at once; a resolve clears the entry, so the alert resolves and the receiver is
told. The entry's writes live with the pipeline (``planners.pipeline.synthetic``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from opsalerts.ack import ack_url_for
from opsalerts.action_log import log_alerting_action
from opsalerts.config import parse_ops_alerting
from opsalerts.delivery import send_delivery
from opsalerts.errors import OpsAlertingError
from opsalerts.models import Alert, AlertEvent, Delivery
from opsalerts.sync import SyncResult, enqueue_delivery_drain, evaluate_and_sync
from planners.pipeline.registry import PipelineError
from planners.pipeline.synthetic import clear_synthetic_item, drillable_phase, force_stale_item

logger = logging.getLogger(__name__)


@dataclass
class SyntheticResult:
    planner: str
    alert: Alert | None
    delivery: Delivery | None
    ack_url: str
    skipped_reason: str = ""
    outcome: Any = None  # opsalerts.delivery.SendOutcome of the inline attempt
    cleared: int = 0  # synthetic backlog entries a resolve removed


def _drillable(planner_slug: str) -> None:
    """Refuse a planner that cannot be drilled (unknown, or no pipeline runs it)."""
    try:
        drillable_phase(planner_slug)
    except PipelineError as exc:
        raise OpsAlertingError(str(exc)) from None


def _require_delivery(config_problems: list[str], enabled: bool) -> None:
    if not enabled:
        raise OpsAlertingError(
            "OPS_ALERTING_ENABLED is false: a synthetic alert would not be delivered. "
            "Set OPS_ALERTING_ENABLED=true and a webhook URL."
        )
    if config_problems:
        raise OpsAlertingError("Ops alerting is misconfigured: " + "; ".join(config_problems))


def trigger_synthetic_alert(
    planner_slug: str, *, actor: str, now: datetime | None = None
) -> SyntheticResult:
    """Force a stale synthetic backlog entry for the planner, evaluate, and deliver at once.

    The entry lives on a dedicated synthetic plan and is flagged ``synthetic``: the health
    report keeps it out of real counts and raises a separate ``backlog:stale`` alert for it.
    """
    _drillable(planner_slug)
    config, problems = parse_ops_alerting()
    _require_delivery([p.message for p in problems], config.enabled)
    now = now or timezone.now()
    started = now - timedelta(seconds=settings.HEALTH_STALE_BACKLOG_SECONDS + 60)
    with transaction.atomic():
        item = force_stale_item(planner_slug, actor=actor, since=started)
        _start_new_episode(planner_slug, config.environment, actor=actor, item_pk=item.pk, now=now)
        log_alerting_action(
            "synthetic-alert",
            actor=actor,
            target=f"planner {planner_slug}",
            detail={"backlog_item": item.pk},
            environment=config.environment,
        )
    return _evaluate_and_send_synthetic(planner_slug, now=now)


def _start_new_episode(
    planner_slug: str, environment: str, *, actor: str, item_pk: int, now: datetime
) -> None:
    """Each trigger is a new test: an open synthetic alert from an earlier trigger starts a
    new episode, so the receiver is told (and asked to acknowledge) again."""
    for alert in Alert.objects.select_for_update().filter(
        synthetic=True, planner_slug=planner_slug, environment=environment
    ):
        if alert.status != Alert.Status.RESOLVED:
            alert.status = Alert.Status.RESOLVED
            alert.resolved_at = now
        alert.delivered_status = ""
        alert.save(update_fields=["status", "resolved_at", "delivered_status"])
        AlertEvent.objects.create(
            alert=alert, kind="retriggered", actor=actor, detail={"backlog_item": item_pk}
        )


def resolve_synthetic_alert(
    planner_slug: str, *, actor: str, now: datetime | None = None
) -> SyntheticResult:
    """Clear the planner's synthetic entry and re-evaluate, so its alert resolves (and the
    receiver gets one ``resolved`` notification)."""
    _drillable(planner_slug)
    cleared = clear_synthetic_item(planner_slug)
    logger.info("Cleared %s synthetic entries for %s (%s)", cleared, planner_slug, actor)
    result = _evaluate_and_send_synthetic(planner_slug, now=now or timezone.now())
    result.cleared = cleared
    return result


def _evaluate_and_send_synthetic(planner_slug: str, *, now: datetime) -> SyntheticResult:
    result = evaluate_and_sync(now, enqueue=False)
    alert = _synthetic_alert(result, planner_slug)
    delivery: Delivery | None = None
    outcome = None
    mine = result.deliveries_for(alert) if alert is not None else []
    others = [candidate for candidate in result.deliveries if candidate not in mine]
    if mine:
        delivery = mine[-1]
        outcome = send_delivery(delivery.pk, now=now)
        delivery.refresh_from_db()
    if others:
        # After the synthetic alert's own attempt: a drain running first could claim it.
        transaction.on_commit(enqueue_delivery_drain)
    if alert is not None:
        alert.refresh_from_db()
    ack_url = _ack_url(alert, delivery)
    skipped = ""
    if alert is None:
        skipped = "the health report raised no synthetic alert for this planner"
    elif delivery is None:
        skipped = result.skipped.get(alert.dedup_key, "nothing was due")
    return SyntheticResult(
        planner=planner_slug,
        alert=alert,
        delivery=delivery,
        ack_url=ack_url,
        skipped_reason=skipped,
        outcome=outcome,
    )


def _ack_url(alert: Alert | None, delivery: Delivery | None) -> str:
    """The link the receiver was sent, so the command prints the one in the notification;
    a fresh one only when nothing went out."""
    if alert is None or alert.status == Alert.Status.RESOLVED:
        return ""
    sent = delivery.payload.get("alerts", []) if delivery is not None else []
    for entry in sent:
        if entry.get("dedup_key") == alert.dedup_key and entry.get("ack_url"):
            return str(entry["ack_url"])
    return ack_url_for(alert)


def _synthetic_alert(result: SyncResult, planner_slug: str) -> Alert | None:
    """The planner's synthetic alert as this sync left it, else its latest row."""
    synced = next(
        (
            a
            for a in [*result.changes.current.values(), *result.changes.resolved]
            if a.synthetic and a.planner_slug == planner_slug
        ),
        None,
    )
    if synced is not None:
        return synced
    return (
        Alert.objects.filter(synthetic=True, planner_slug=planner_slug)
        .order_by("-last_seen")
        .first()
    )
