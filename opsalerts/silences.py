"""Silences: which alerts are not delivered for a while, and the writes that start them.

``active_silences`` is the one query for the silences in force; the outbox, the admin and the
console read it rather than filtering ``Silence`` rows themselves.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from opsalerts.action_log import log_alerting_action
from opsalerts.errors import OpsAlertingError
from opsalerts.models import Alert, AlertEvent, Silence


def active_silences(now: datetime) -> list[Silence]:
    """The silences in force at ``now`` (started, not yet ended)."""
    return list(Silence.objects.filter(starts_at__lte=now, ends_at__gt=now))


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
