"""The outbox's claim: taking due deliveries for one attempt each, so no two workers send the
same row at once.

Claim. One statement takes up to ``BATCH_SIZE`` due rows and returns what their requests need:
``WITH batch AS MATERIALIZED (SELECT id ... ORDER BY next_attempt_at, id LIMIT n FOR UPDATE
SKIP LOCKED) UPDATE ... SET next_attempt_at = <end of lease>, attempts = attempts + 1 WHERE id
IN batch ... RETURNING ...``. It commits on its own, before any request. On PostgreSQL a drain
running at the same moment skips the rows being claimed and takes the next ones; SQLite has a
single writer, so the statement is atomic there without row locks. A claimed row is not due
until its lease ends, so two drains (or a drain and ``send_delivery``) never send the same
delivery at once.

Lease. ``2 * timeout + 30 s`` from the claim (see ``opsalerts.delivery`` for how a batch stays
inside it).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection

from opsalerts.config import OpsAlertingConfig
from opsalerts.models import Delivery

BACKOFF_BASE_SECONDS = 10
BACKOFF_MAX_SECONDS = 3600
RETRYABLE = (Delivery.Status.PENDING, Delivery.Status.FAILED)
BATCH_SIZE = 100


def backoff_seconds(attempt: int) -> int:
    """10 s, 20 s, 40 s, ... capped at an hour: after attempt ``attempt`` failed."""
    return int(min(BACKOFF_BASE_SECONDS * 2 ** max(attempt - 1, 0), BACKOFF_MAX_SECONDS))


def lease_for(config: OpsAlertingConfig) -> timedelta:
    return timedelta(seconds=config.timeout_seconds * 2 + 30)


@dataclass(frozen=True)
class ClaimedDelivery:
    """What one attempt needs of the outbox row, read back by the claim itself."""

    pk: int
    webhook_url: str
    webhook_id: str
    routing_key: str
    payload: dict[str, Any]
    attempt: int
    channel: str = Delivery.Transport.WEBHOOK


@functools.cache
def _claim_sql(which: str) -> str:
    """``UPDATE ... RETURNING`` (PostgreSQL, SQLite >= 3.35): claim and load in one statement.

    Built by hand because the ORM has no UPDATE ... RETURNING, and claiming a batch with
    ``select_for_update(skip_locked=True)`` then updating it costs a second round trip per
    batch, which is what bounds the delivery figure in ``make bench``.
    ``which`` is ``"one"`` (one row by id) or ``"due"`` (the oldest due rows, up to a limit).
    """
    meta = Delivery._meta
    qn = connection.ops.quote_name
    columns = {field.name: field.column for field in meta.concrete_fields}

    def column(name: str) -> str:
        return qn(columns[name])

    table, pk, due, attempts = (
        qn(meta.db_table),
        column("id"),
        column("next_attempt_at"),
        column("attempts"),
    )
    claimable = f"{column('status')} IN (%s, %s) AND ({due} IS NULL OR {due} <= %s)"

    def claim(rows: str) -> str:
        return (
            f"UPDATE {table} SET {due} = %s, {attempts} = {attempts} + 1 "
            f"WHERE {rows} AND {claimable} "
            f"RETURNING {pk}, {column('webhook_url')}, {column('webhook_id')}, "
            f"{column('routing_key')}, {column('payload')}, {attempts}, {column('channel')}"
        )

    if which == "one":
        return claim(f"{pk} = %s")
    # MATERIALIZED: the batch is chosen once. As a plain ``IN (SELECT ... LIMIT n)`` PostgreSQL
    # may rescan the subquery for every row it updates and claim far more than n rows.
    # SKIP LOCKED: a concurrent drain takes the next rows instead of waiting for these.
    skip_locked = (
        " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    )
    batch = (
        f"WITH batch AS MATERIALIZED (SELECT {pk} FROM {table} WHERE {claimable} "
        f"ORDER BY {due}, {pk} LIMIT %s{skip_locked}) "
    )
    return batch + claim(f"{pk} IN (SELECT {pk} FROM batch)")


def claim(which: str, selector: Any, *, now: datetime, lease: timedelta) -> list[ClaimedDelivery]:
    """One claim statement, committed on its own before any POST; the claimed rows by id.

    ``selector`` is the delivery id (``"one"``) or the batch size (``"due"``).
    """
    adapt = connection.ops.adapt_datetimefield_value
    claimable = [*RETRYABLE, adapt(now)]
    if which == "one":
        params = [adapt(now + lease), selector, *claimable]
    else:
        params = [*claimable, selector, adapt(now + lease), *claimable]
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(which), params)
        rows = cursor.fetchall()
    claimed = []
    for pk, url, webhook_id, routing_key, raw_payload, attempts, channel in rows:
        # JSON arrives as text on both backends (Django decodes it in the field, not the driver).
        payload = json.loads(raw_payload) if isinstance(raw_payload, str | bytes) else raw_payload
        claimed.append(
            ClaimedDelivery(pk, url, webhook_id, routing_key, payload, attempts, channel)
        )
    claimed.sort(key=lambda delivery: delivery.pk)
    return claimed


def claim_delivery(delivery_id: int, *, now: datetime, lease: timedelta) -> bool:
    """Take the delivery for one attempt; False when it is not due or someone else has it."""
    return bool(claim("one", delivery_id, now=now, lease=lease))


def claim_due_deliveries(
    *, now: datetime, lease: timedelta, limit: int = BATCH_SIZE
) -> list[ClaimedDelivery]:
    """Take up to ``limit`` due deliveries, oldest due first, for one attempt each."""
    return claim("due", limit, now=now, lease=lease)
