"""Deleting old history rows in bounded batches, keeping the ones still needed.

Both apps keep history that grows with every run and alert (``planners.retention``,
``opsalerts.retention``); each says which rows are old and why some must stay, and this module
does the counting and the deleting the same way for all of them: one statement counts what is
old and why some of it stays, then each batch reads up to ``batch_size`` ids (in id order,
after the last batch's) and deletes them in one statement. The number of statements grows with
the number of batches, never with the number of rows, and a run stops after ``max_batches``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Model, Q, QuerySet

logger = logging.getLogger(__name__)

#: The reason rows named by an open rollout checklist's evidence stay (both apps keep some).
ROLLOUT_EVIDENCE = "open rollout checklist evidence"


@dataclass(frozen=True)
class Keep:
    """Old rows matching ``condition`` stay, because ``reason``."""

    reason: str
    condition: Q


@dataclass(frozen=True)
class PruneResult:
    """What one kind's prune did (or, in a dry run, would do).

    ``kept`` counts old rows left because they are still needed, by the first reason that
    applies; ``deferred`` counts prunable rows left for the next run by the batch bound."""

    kind: str
    retain_days: int
    deleted: int
    kept: dict[str, int] = field(default_factory=dict)
    deferred: int = 0
    batches: int = 0
    dry_run: bool = False


@dataclass(frozen=True)
class BatchBounds:
    size: int
    max_batches: int

    @classmethod
    def from_settings(cls) -> BatchBounds:
        return cls(size=settings.RETAIN_BATCH_SIZE, max_batches=settings.RETAIN_MAX_BATCHES)

    @property
    def max_rows(self) -> int:
        return self.size * self.max_batches


def prune_rows(
    kind: str,
    old: QuerySet[Model],
    keep: list[Keep],
    *,
    retain_days: int,
    dry_run: bool = False,
    bounds: BatchBounds | None = None,
) -> PruneResult:
    """Delete the rows of ``old`` that no ``keep`` condition matches, in batches."""
    bounds = bounds or BatchBounds.from_settings()
    kept, prunable = _count(old, keep)
    planned = min(prunable, bounds.max_rows)
    if dry_run:
        deleted, batches = planned, math.ceil(planned / bounds.size)
    else:
        deleted, batches = _delete_in_batches(_without(old, keep), bounds)
    if deleted and not dry_run:
        logger.info("pruned %s %s older than %s days", deleted, kind, retain_days)
    return PruneResult(
        kind=kind,
        retain_days=retain_days,
        deleted=deleted,
        kept={reason: count for reason, count in kept.items() if count},
        deferred=max(prunable - planned, 0),
        batches=batches,
        dry_run=dry_run,
    )


def _without(old: QuerySet[Model], keep: list[Keep]) -> QuerySet[Model]:
    for rule in keep:
        old = old.exclude(rule.condition)
    return old


def _count(old: QuerySet[Model], keep: list[Keep]) -> tuple[dict[str, int], int]:
    """One statement: old rows kept per reason (the first that applies) and the rest."""
    counts: dict[str, Count] = {}
    earlier: Q | None = None
    for n, rule in enumerate(keep):
        first = rule.condition if earlier is None else rule.condition & ~earlier
        counts[f"keep_{n}"] = Count("pk", filter=first)
        earlier = rule.condition if earlier is None else earlier | rule.condition
    counts["prunable"] = Count("pk") if earlier is None else Count("pk", filter=~earlier)
    row = old.order_by().aggregate(**counts)
    kept = {rule.reason: row[f"keep_{n}"] for n, rule in enumerate(keep)}
    return kept, row["prunable"]


def _delete_in_batches(prunable: QuerySet[Model], bounds: BatchBounds) -> tuple[int, int]:
    model = prunable.model
    label = model._meta.label
    deleted = batches = 0
    last_id = 0
    while batches < bounds.max_batches:
        ids = list(
            prunable.filter(pk__gt=last_id)
            .order_by("pk")
            .values_list("pk", flat=True)[: bounds.size]
        )
        if not ids:
            break
        # Only the ids: a cascade needs the rows, but not their (large) prompts and replies.
        _, per_model = model._default_manager.filter(pk__in=ids).only("pk").delete()
        deleted += per_model.get(label, 0)
        batches += 1
        last_id = ids[-1]
        if len(ids) < bounds.size:
            break
    return deleted, batches
