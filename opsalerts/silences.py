"""Silences: which alerts are not delivered for a while, and the writes that start them.

``active_silences`` is the one query for the silences in force; the outbox, the admin and the
console read it rather than filtering ``Silence`` rows themselves.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from opsalerts.action_log import log_alerting_action
from opsalerts.errors import OpsAlertingError
from opsalerts.models import Alert, AlertEvent, Silence


def active_silences(now: datetime) -> list[Silence]:
    """The silences in force at ``now`` (started, not yet ended)."""
    return list(Silence.objects.filter(starts_at__lte=now, ends_at__gt=now))


# An alert as an operator sees it: a silence in force wins over firing and acknowledged.
ALERT_STATES = ("firing", "acknowledged", "silenced", "resolved")


@dataclass(frozen=True)
class AlertStates:
    """How many alerts are in each state now, and which open ones are silenced: the one
    definition of "firing" (firing and not silenced) that the console's badge, tiles, filters
    and banner and the diagnostics API share."""

    silences: list[Silence]
    silenced_pks: frozenset[int]
    counts: dict[str, int]  # "resolved" stays 0 until with_resolved_count()

    @property
    def firing(self) -> int:
        return self.counts["firing"]

    def state_of(self, alert: Alert) -> str:
        if alert.pk in self.silenced_pks and alert.status != Alert.Status.RESOLVED:
            return "silenced"
        return str(alert.status)

    def with_resolved_count(self) -> AlertStates:
        """The same states with resolved alerts counted too (one query); the badge needs only
        the open ones, the alerts list all four."""
        resolved = Alert.objects.filter(status=Alert.Status.RESOLVED).count()
        return AlertStates(self.silences, self.silenced_pks, {**self.counts, "resolved": resolved})

    def having(self, state: str) -> Q:
        """The alerts in ``state``, as a filter on ``Alert``."""
        if state == "silenced":
            return Q(pk__in=self.silenced_pks)
        return Q(status=state) & ~Q(pk__in=self.silenced_pks)


def alert_states(now: datetime | None = None, *, count_resolved: bool = False) -> AlertStates:
    """Two queries (three with ``count_resolved``): the silences in force, and the open alerts,
    which are few (one row per condition that is still true) however long the history is."""
    silences = active_silences(now or timezone.now())
    silenced: set[int] = set()
    counts = dict.fromkeys(ALERT_STATES, 0)
    open_alerts = Alert.objects.exclude(status=Alert.Status.RESOLVED).values_list(
        "pk", "alert_id", "status"
    )
    for pk, alert_id, status in open_alerts:
        if any(s.matches(alert_id) for s in silences):
            silenced.add(pk)
            counts["silenced"] += 1
        else:
            counts[status] += 1
    states = AlertStates(silences, frozenset(silenced), counts)
    return states.with_resolved_count() if count_resolved else states


def matching_silence(alert: Alert, silences: Sequence[Silence]) -> Silence | None:
    return next((s for s in silences if s.matches(alert.alert_id)), None)


def alert_is_silenced(alert: Alert, *, now: datetime | None = None) -> bool:
    return matching_silence(alert, active_silences(now or timezone.now())) is not None


def silence_alerts(pattern: str, *, minutes: int, author: str, reason: str = "") -> Silence:
    """Stop delivering alerts whose id matches ``pattern`` (a glob) for ``minutes``."""
    if not pattern.strip():
        raise OpsAlertingError("A silence needs a pattern, e.g. backlog:* or backlog:stale.")
    if minutes <= 0:
        raise OpsAlertingError("A silence must last at least one minute.")
    now = timezone.now()
    with transaction.atomic():
        silence = Silence.objects.create(
            pattern=pattern.strip(),
            starts_at=now,
            ends_at=now + timedelta(minutes=minutes),
            author=author,
            reason=reason,
        )
        record_silence(silence, actor=author)
    return silence


def record_silence(silence: Silence, *, actor: str) -> None:
    """Events on the open alerts it covers and an action log entry (also for admin-made ones)."""
    minutes = int((silence.ends_at - silence.starts_at).total_seconds() // 60)
    with transaction.atomic():
        AlertEvent.objects.bulk_create(
            AlertEvent(
                alert=alert,
                kind="silenced",
                actor=actor,
                detail={"silence": silence.pk, "pattern": silence.pattern, "minutes": minutes},
            )
            for alert in Alert.objects.exclude(status=Alert.Status.RESOLVED)
            if fnmatch.fnmatchcase(alert.alert_id, silence.pattern)
        )
        log_alerting_action(
            "silence",
            actor=actor,
            target=f"alerts matching {silence.pattern}",
            detail={
                "pattern": silence.pattern,
                "minutes": minutes,
                "reason": silence.reason,
                "ends_at": silence.ends_at.isoformat(),
            },
            environment=settings.DEPLOY_ENVIRONMENT,
        )
