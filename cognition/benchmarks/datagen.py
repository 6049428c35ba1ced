"""Deterministic bulk data for the benchmarks.

Rows go in with PostgreSQL's COPY (psycopg 3) when the database is PostgreSQL, with
``bulk_create`` otherwise; no network, a fixed random seed, and the same shape at every scale.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from planners.execution_rollup import roll_up_executions
from planners.models import (
    BacklogItem,
    BacklogStatus,
    BacklogTransition,
    ExecutionRollup,
    ExecutionRollupMark,
    PhaseTranscript,
    Plan,
    PlannerExecution,
    Project,
)
from planners.pipeline.unproduced_inputs import refresh_all_plans


@dataclass(frozen=True)
class Scale:
    name: str
    plans: int
    items: int
    transitions: int
    executions: int


SCALES = {
    "small": Scale("small", plans=2, items=100, transitions=1_000, executions=300),
    "large": Scale("large", plans=200, items=100_000, transitions=1_000_000, executions=300_000),
}

PHASES = ("vision", "iterative", "chapterArchitect", "scrollRefiner", "sceneWeaver")
SLUGS = ("vision", "iterative", "chapter-architect", "scroll-refiner", "scene-weaver")
OUTCOMES = ("success",) * 17 + ("failed", "blocked", "throttled")
STATUSES = (
    (BacklogStatus.COMPLETE,) * 14
    + (BacklogStatus.PENDING,) * 3
    + (BacklogStatus.IN_PROGRESS, BacklogStatus.BLOCKED, BacklogStatus.FAILED)
)


def _copy_rows(model: type[Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    table = model._meta.db_table
    if connection.vendor == "postgresql":
        column_list = ", ".join(columns)
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg 3 cursor under Django's wrapper
            with raw.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    batch: list[Model] = []
    for row in rows:
        batch.append(model(**dict(zip(columns, row, strict=True))))
        if len(batch) >= 5_000:
            model._default_manager.bulk_create(batch)
            batch.clear()
    if batch:
        model._default_manager.bulk_create(batch)


def reset_benchmark_data() -> None:
    with transaction.atomic():
        PhaseTranscript.objects.all().delete()
        PlannerExecution.objects.all().delete()
        ExecutionRollup.objects.all().delete()
        ExecutionRollupMark.objects.all().delete()
        BacklogTransition.objects.all().delete()
        BacklogItem.objects.all().delete()
        Plan.objects.all().delete()
        Project.objects.filter(title__startswith="Bench project").delete()


def generate(scale: Scale, *, seed: int = 20261126) -> dict[str, int]:
    """Replace the pipeline tables' rows with ``scale``'s worth of deterministic data."""
    rng = random.Random(seed)
    now = timezone.now()
    reset_benchmark_data()
    with transaction.atomic():
        plan_ids = _load_plans(scale)
        _load_items(scale, plan_ids, rng, now)
        # COPY sends nothing the engine would have done: store each item's unproduced inputs.
        refresh_all_plans()
        items = list(BacklogItem.objects.values_list("pk", "plan_id"))
        _load_transitions(scale, items, rng, now)
        _load_executions(scale, items, rng, now)
        # As in a deployment with this much history, the beat has rolled settled runs up.
        roll_up_executions()
        _load_transcripts(scale, items, rng, now)
    if connection.vendor == "postgresql":
        # What autovacuum has long done to tables this old: statistics for the planner, and
        # the visibility map that lets counts be answered from an index alone.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return {
        "plans": scale.plans,
        "items": scale.items,
        "transitions": scale.transitions,
        "executions": scale.executions,
    }


ItemKeys = list[tuple[int, int]]


def _load_plans(scale: Scale) -> list[int]:
    projects = Project.objects.bulk_create(
        Project(title=f"Bench project {n:04d}") for n in range(scale.plans)
    )
    plans = Plan.objects.bulk_create(
        Plan(project=p, name=f"{p.title} plan", status="in_progress") for p in projects
    )
    return [p.pk for p in plans]


def _load_items(scale: Scale, plan_ids: list[int], rng: random.Random, now: datetime) -> None:
    def item_rows() -> Iterable[tuple[Any, ...]]:
        for n in range(scale.items):
            status = rng.choice(STATUSES)
            started = now - timedelta(seconds=rng.randint(60, 30 * 86400))
            phase = PHASES[n % len(PHASES)]
            yield (
                plan_ids[n % len(plan_ids)], f"item-{n:06d}", f"Bench item {n}", status,
                phase, n, _inputs(n, len(plan_ids)), [f"out-{n}"], 1, started, started,
                started if status == BacklogStatus.COMPLETE else None,
                started, started, False, "", "", "", "", [], False, "", "",
            )  # fmt: skip

    _copy_rows(
        BacklogItem,
        (
            "plan_id", "backlog_id", "description", "status", "phase", "position",
            "inputs", "outputs", "attempts", "in_progress_at", "heartbeat_at",
            "completed_at", "created_at", "updated_at", "synthetic", "agent_backend",
            "agent_provider", "agent_model", "last_error", "unproduced_inputs",
            "has_unproduced_inputs", "claimed_by", "claimed_by_instance",
        ),
        _json_columns(item_rows(), (6, 7, 19)),
    )  # fmt: skip


def _load_transitions(scale: Scale, items: ItemKeys, rng: random.Random, now: datetime) -> None:
    def transition_rows() -> Iterable[tuple[Any, ...]]:
        order = ("pending", "in_progress", "complete")
        for n in range(scale.transitions):
            item_id, plan_id = items[n % len(items)]
            step = rng.randrange(2)
            at = _appended_at(now, n, scale.transitions, 60 * 86400, rng)
            yield (item_id, plan_id, order[step], order[step + 1], "phase-start", "bench", "", at)

    _copy_rows(
        BacklogTransition,
        (
            "item_id", "plan_id", "from_status", "to_status", "reason", "actor", "detail",
            "created_at",
        ),
        transition_rows(),
    )  # fmt: skip


def _load_executions(scale: Scale, items: ItemKeys, rng: random.Random, now: datetime) -> None:
    def execution_rows() -> Iterable[tuple[Any, ...]]:
        for n in range(scale.executions):
            item_id, plan_id = items[n % len(items)]
            at = _appended_at(now, n, scale.executions, 30 * 86400, rng)
            outcome = rng.choice(OUTCOMES)
            yield (
                SLUGS[n % len(SLUGS)], outcome, f"planner.fiction.{PHASES[n % 5]}", 1, False,
                rng.randint(5, 900), rng.randint(5, 800), rng.randint(200, 2000),
                rng.randint(100, 1500), 0, 0, "", "passed", "", {}, [], {},
                "" if outcome == "success" else "bench failure", "dev", f"bench-{n}",
                "scripted", "scripted", plan_id, item_id, False, at, at, at,
            )  # fmt: skip

    _copy_rows(
        PlannerExecution,
        (
            "planner_slug", "outcome", "template_id", "template_version", "used_fallback",
            "duration_ms", "latency_ms", "prompt_tokens", "completion_tokens",
            "critique_count", "critique_tokens", "critique_status", "validation_status",
            "quota_limit", "diagnostics", "transcript", "artifacts", "error", "environment",
            "correlation_id", "agent_provider", "agent_model", "plan_id", "backlog_item_id",
            "synthetic", "started_at", "finished_at", "created_at",
        ),
        _json_columns(execution_rows(), (14, 15, 16)),
    )  # fmt: skip


def _load_transcripts(scale: Scale, items: ItemKeys, rng: random.Random, now: datetime) -> None:
    def transcript_rows() -> Iterable[tuple[Any, ...]]:
        for n in range(scale.executions):
            item_id, plan_id = items[n % len(items)]
            at = _appended_at(now, n, scale.executions, 30 * 86400, rng)
            yield (
                plan_id, PHASES[n % 5], item_id, 1, False, [], "{}", 500, 300, 40,
                "passed", [], "passed", f"planner.fiction.{PHASES[n % 5]}", 1,
                {"backlogItemId": f"item-{n % len(items):06d}"}, at,
            )  # fmt: skip

    _copy_rows(
        PhaseTranscript,
        (
            "plan_id", "phase", "backlog_item_id", "attempt", "is_retry", "request",
            "response", "prompt_tokens", "completion_tokens", "latency_ms",
            "validation_status", "validation_details", "outcome", "template_id",
            "template_version", "metadata", "created_at",
        ),
        _json_columns(transcript_rows(), (5, 11, 15)),
    )  # fmt: skip


def _inputs(n: int, plans: int) -> list[str]:
    """Item ``n`` (of plan ``n % plans``) waits on the plan's previous item, as a backlog's
    passes build on each other; one item in a hundred also waits on a token no item outputs,
    so the report has orphans to find among the rest."""
    tokens = [f"out-{n - plans}"] if n >= plans else []
    if n % 100 == 99:
        tokens.append(f"missing-{n % 97}")
    return tokens


def _appended_at(
    now: datetime, n: int, count: int, span_seconds: int, rng: random.Random
) -> datetime:
    """The time of history row ``n`` of ``count`` spread over ``span_seconds`` up to ``now``,
    in insertion order with jitter: history tables are appended as things happen, so their
    rows sit on disk roughly in time order, as they would in a real deployment."""
    step = span_seconds / count
    return now - timedelta(seconds=(count - n) * step - rng.uniform(0, step))


def _json_columns(
    rows: Iterable[tuple[Any, ...]], positions: Sequence[int]
) -> Iterable[tuple[Any, ...]]:
    """COPY needs JSON columns as text; bulk_create wants Python values. Both get what they need."""
    if connection.vendor != "postgresql":
        yield from rows
        return
    import json

    for row in rows:
        values = list(row)
        for position in positions:
            values[position] = json.dumps(values[position])
        yield tuple(values)
