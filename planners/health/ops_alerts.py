"""Rules about the machinery itself: no worker alive, beat silent.

Computed from the heartbeat rows when the report is read (``cognition.liveness``), so the
report says the workers are down even when nothing is left to evaluate alerts.
"""

from __future__ import annotations

from datetime import datetime

from cognition.liveness import Liveness
from planners.health.alert_rules import AlertFacts, alert_rule, duration
from planners.health.report import HealthAlert, Severity


def _ago(liveness: Liveness, last_seen: datetime) -> str:
    return duration(int((liveness.checked_at - last_seen).total_seconds()))


@alert_rule("ops")
def workers_down(facts: AlertFacts) -> list[HealthAlert]:
    liveness = facts.liveness
    if liveness.workers_alive:
        return []
    last_seen = liveness.worker_last_seen
    seen = (
        f"the last one was seen {_ago(liveness, last_seen)} ago"
        if last_seen
        else "none has a heartbeat on record"
    )
    return [
        HealthAlert(
            id="ops:workers-down",
            severity=Severity.ERROR,
            title="No Celery worker is alive",
            description=(
                f"No worker was seen in the last {duration(liveness.alive_window_seconds)} "
                f"({seen}): no phase runs and no alert is delivered. Start the workers "
                "(make run, or celery -A cognition worker)."
            ),
        )
    ]


@alert_rule("ops")
def beat_silent(facts: AlertFacts) -> list[HealthAlert]:
    liveness = facts.liveness
    if liveness.beat_alive:
        return []
    beat = liveness.beat
    seen = (
        f"it was last seen {_ago(liveness, beat.last_seen)} ago"
        if beat
        else "it has no heartbeat on record"
    )
    return [
        HealthAlert(
            id="ops:beat-silent",
            severity=Severity.ERROR,
            title="Celery beat is silent",
            description=(
                f"Beat was not seen in the last {duration(liveness.alive_window_seconds)} "
                f"({seen}): alerts are not evaluated, failed deliveries are not retried and "
                "stale phases are not swept. Run exactly one beat (celery -A cognition beat)."
            ),
        )
    ]
