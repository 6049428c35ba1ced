"""Provider limits in the database, for a broker that is not Redis: one ``AgentBackendLimit``
row per backend (its leases, pacing and pause), locked by each operation: ``select_for_update``
on PostgreSQL, a write transaction on SQLite."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from cognition.agents.limits.pacing import (
    BUSY_WAIT_SECONDS,
    Admission,
    Pacing,
    ProviderLimits,
)
from cognition.models import AgentBackendLimit


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _seconds(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


class DatabaseLimiter:
    """Limits in ``AgentBackendLimit`` rows: each operation locks its backend's row."""

    def admit(
        self,
        backend: str,
        lease: str,
        *,
        tokens: int,
        lease_seconds: float,
        limits: ProviderLimits,
        now: float | None = None,
    ) -> Admission:
        now = time.time() if now is None else now
        with transaction.atomic():
            row = _locked_row(backend)
            admission = _admit_row(row, lease, tokens, lease_seconds, limits, now)
            row.save()
        return admission

    def release(self, backend: str, lease: str) -> None:
        with transaction.atomic():
            row = _locked_row(backend)
            if row.leases.pop(lease, None) is not None:
                row.save(update_fields=["leases", "updated_at"])

    def pause(self, backend: str, seconds: float, *, now: float | None = None) -> None:
        until = _moment((time.time() if now is None else now) + seconds)
        with transaction.atomic():
            row = _locked_row(backend)
            if row.paused_until is None or row.paused_until < until:
                row.paused_until = until
                row.save(update_fields=["paused_until", "updated_at"])

    def clear(self, backend: str) -> None:
        AgentBackendLimit.objects.filter(backend=backend).delete()


def _locked_row(backend: str) -> AgentBackendLimit:
    """The backend's row (made on first use), locked until the transaction ends. The first
    statement writes, so SQLite takes its write lock before reading (a transaction that read
    first could not write once another process had); PostgreSQL holds the row for update."""
    if not AgentBackendLimit.objects.filter(backend=backend).update(updated_at=timezone.now()):
        AgentBackendLimit.objects.get_or_create(backend=backend)
    return AgentBackendLimit.objects.select_for_update().get(backend=backend)


def _admit_row(
    row: AgentBackendLimit,
    lease: str,
    tokens: int,
    lease_seconds: float,
    limits: ProviderLimits,
    now: float,
) -> Admission:
    """The admission rules on the locked row; the caller saves it."""
    if row.paused_until is not None and row.paused_until.timestamp() > now:
        return Admission(False, row.paused_until.timestamp() - now, "paused")
    row.leases = {held: expiry for held, expiry in row.leases.items() if expiry > now}
    if lease not in row.leases and len(row.leases) >= limits.max_concurrency:
        return Admission(False, BUSY_WAIT_SECONDS, "busy")
    booked = Pacing(_seconds(row.requests_tat), _seconds(row.tokens_tat)).admit(limits, tokens, now)
    if isinstance(booked, Admission):
        return booked
    pacing, turn = booked
    row.requests_tat = _moment(pacing.requests) if pacing.requests is not None else None
    row.tokens_tat = _moment(pacing.tokens) if pacing.tokens is not None else None
    row.leases[lease] = now + lease_seconds
    return Admission(True, turn=turn)
