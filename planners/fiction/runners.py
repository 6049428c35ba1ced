"""Running one backlog item's phase: context, planner, transcripts, materialisation, result.

``run_backlog_item`` is what the Celery phase task calls once it has claimed the item. It does
not claim, transition or schedule items (the pipeline does); it turns one planner run into
durable records and a ``PhaseResult``:

* scroll and scene phases first pass the lore gate: an unresolved requirement bound to the
  scroll blocks the phase before any model call (one ``skipped`` transcript names it);
* the planner runs (one ``PlannerExecution`` row, one repair attempt on a bad reply);
* every agent attempt becomes a ``PhaseTranscript`` (request, raw reply, tokens, latency,
  validation, template, execution link, metadata with ``backlogItemId``, ``phase``, ``branch``
  and the blueprint/scroll/section/scene slugs and ids);
* a valid reply is materialised idempotently;
* all of it (and the caller's ``close`` hook) is stored in one transaction after the agent call,
  so a phase is recorded whole or not at all.

Outcome mapping (planner outcome → phase status): success/partial → ``completed``; blocked →
``blocked``; failed → ``failed`` (``retryable`` for a transient agent error: network, 429, 5xx);
cancelled → ``cancelled``; throttled/rejected by a quota → ``skipped`` (``retryable`` only when
the limit was the queued-jobs one, which clears by itself).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import connection, transaction

from cognition.agents.base import AgentError, AgentService
from cognition.sql import column, table
from planners.fiction.inputs import PhaseInputError, next_iteration, params_for, resolve_blueprint
from planners.fiction.lore import blocking_requirements, describe_blockers
from planners.fiction.materialise import (
    Materialised,
    mark_scene,
    materialise_chapter,
    materialise_iterative,
    materialise_scene,
    materialise_scroll,
    materialise_vision,
)
from planners.fiction.phases import phase_key, planner_slug_for
from planners.framework.base import FinishedRun, PlannerBase
from planners.framework.catalog import catalog
from planners.framework.context import PlannerContext
from planners.framework.limits import quotas_for
from planners.framework.result import AgentAttempt
from planners.models import (
    BacklogItem,
    BacklogStatus,
    ChapterScene,
    Phase,
    PhaseTranscript,
    PlannerExecution,
    PlannerOutcome,
)
from planners.scheduling import lock_plan

logger = logging.getLogger(__name__)

#: The item with every row a phase reads of it: plan, project and targets (a scene item's
#: section, scroll and blueprint are its own targets too: see ``_link_targets``). Unordered: it
#: is read by pk, and the model's ordering (by the plan's creation time) made PostgreSQL plan
#: the seven-table join around a sort, ~1 ms more per phase.
ITEM_WITH_TARGETS = BacklogItem.objects.select_related(
    "plan__project", "blueprint", "scroll", "section", "scene"
).order_by()

PhaseStatus = Literal["completed", "blocked", "failed", "cancelled", "skipped"]


@dataclass(frozen=True)
class PhaseResult:
    """How a phase ended. ``reason`` is for people (empty when it completed); ``retryable``
    tells the task whether running it again later can help without anyone changing anything."""

    status: PhaseStatus
    reason: str = ""
    retryable: bool = False
    execution_id: int | None = None
    transcript_ids: tuple[int, ...] = ()
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "completed"


#: What the pipeline does with a phase's result, in the transaction that stores its records
#: (which holds the plan's lock).
CloseHook = Callable[[PhaseResult], None]


@dataclass
class _Attempt:
    """One agent call in the shape a transcript needs, from a result or a stored execution."""

    attempt: int
    kind: str
    agent_phase: str
    request: list[dict[str, str]]
    response: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0
    validation_status: str = "unknown"
    validation_details: list[str] = field(default_factory=list)
    template_id: str = ""
    template_version: int | None = None
    error: str = ""

    @classmethod
    def from_agent_attempt(cls, attempt: AgentAttempt) -> _Attempt:
        return cls(
            attempt=attempt.attempt,
            kind=attempt.kind,
            agent_phase=attempt.phase,
            request=[{"role": m.role, "content": m.content} for m in attempt.messages],
            response=attempt.response,
            prompt_tokens=attempt.prompt_tokens,
            completion_tokens=attempt.completion_tokens,
            latency_ms=attempt.latency_ms,
            validation_status=attempt.validation_status,
            validation_details=list(attempt.validation_details),
            template_id=attempt.template_id,
            template_version=attempt.template_version,
            error=attempt.error,
        )


def run_backlog_item(
    item: BacklogItem,
    agent: AgentService,
    *,
    correlation_id: str,
    actor: str = "",
    is_cancelled: Callable[[], bool] | None = None,
    close: CloseHook | None = None,
    refresh: bool = True,
) -> PhaseResult:
    """Run the phase of ``item`` (already claimed by the caller) and record what happened.

    Never raises for an unsuccessful phase: bad replies, lore blocks, agent errors and quota
    breaches come back as a ``PhaseResult``. Nothing is written before or during the agent
    call; afterwards the execution row, its telemetry events, what the phase produced (under a
    savepoint, so a failed write keeps the rest), the transcripts and ``close(result)`` (the
    pipeline's checkpoint, transition and scheduling) are stored in ONE transaction, under the
    plan's lock. ``refresh=False`` when ``item`` was just read with ``ITEM_WITH_TARGETS``.
    """
    if refresh:
        # One query for the item and the rows every phase reads (plan, project, its targets).
        item.refresh_from_db(from_queryset=ITEM_WITH_TARGETS)
    _link_targets(item)
    plan = item.plan
    planner = catalog.get(planner_slug_for(item.phase))

    blockers = blocking_requirements(item)
    if blockers:
        reason = describe_blockers(blockers)
        return _ended_before_agent(item, planner, correlation_id, reason, close)

    iteration = next_iteration(item) if item.phase == Phase.ITERATIVE else 0
    try:
        params = params_for(item, iteration=iteration)
    except PhaseInputError as exc:
        return _ended_before_agent(item, planner, correlation_id, str(exc), close)

    context = PlannerContext.create(
        agent,
        correlation_id=correlation_id,
        plan=plan,
        backlog_item=item,
        phase=item.phase,
        actor=actor,
        iteration=iteration,
        queued_jobs=_queued_jobs(item, planner.slug),
        metadata={"backlogItemId": item.backlog_id, "phase": item.phase, "branch": plan.branch},
    )
    if is_cancelled is not None:
        context.is_cancelled = is_cancelled
    run = planner.run(context, params)
    if isinstance(run.error, AgentError):
        # A transient agent error: the call can be retried later.
        reason = f"agent error (transient): {run.error}"
        return _ended_by_exception(item, planner.slug, correlation_id, run, reason, True, close)
    if run.error is not None:
        error = run.error
        logger.error(
            "phase %s of item %s crashed: %s: %s",
            item.phase,
            item.backlog_id,
            type(error).__name__,
            error,
        )
        reason = f"internal error: {type(error).__name__}: {error}"
        return _ended_by_exception(item, planner.slug, correlation_id, run, reason, False, close)

    return _finish(
        item, planner.slug, correlation_id, run, iteration=iteration, actor=actor, close=close
    )


def _link_targets(item: BacklogItem) -> None:
    """Point the scene's section, the section's scroll and the scroll's blueprint at the item's
    own target rows when they are the same rows (as on every scene item), so walking from the
    scene reads nothing more (a wider join costs more to plan than it saves)."""
    scene, section, scroll = item.scene, item.section, item.scroll
    if scene is not None and section is not None and scene.section_id == section.pk:
        scene.section = section
    if section is not None and scroll is not None and section.scroll_id == scroll.pk:
        section.scroll = scroll
    if (
        scroll is not None
        and item.blueprint is not None
        and scroll.blueprint_id == item.blueprint_id
    ):
        scroll.blueprint = item.blueprint


# --- outcomes -------------------------------------------------------------------------------------


def _finish(
    item: BacklogItem,
    planner_slug: str,
    correlation_id: str,
    run: FinishedRun,
    *,
    iteration: int,
    actor: str,
    close: CloseHook | None,
) -> PhaseResult:
    result = run.result
    attempts = [_Attempt.from_agent_attempt(a) for a in result.attempts]
    outcome = result.outcome
    materialised = Materialised()
    status: PhaseStatus
    retryable = False
    reason = result.error
    if not attempts:
        # Parameters, quota or template rendering ended the run before any agent call.
        attempts = [_no_call_attempt(item, result.error, result.template_id)]
        attempts[0].template_version = result.template_version

    with transaction.atomic():
        lock_plan(item.plan_id)
        execution = run.save()
        if result.ok:
            try:
                with transaction.atomic():
                    materialised = _materialise(
                        item, result.reply, iteration=iteration, actor=actor
                    )
                status, reason = "completed", ""
            except Exception as exc:
                logger.exception("materialising %s of item %s failed", item.phase, item.backlog_id)
                status, reason = "failed", f"could not store the reply: {type(exc).__name__}: {exc}"
        elif outcome == PlannerOutcome.BLOCKED:
            status = "blocked"
            mark_scene(item, ChapterScene.Status.BLOCKED)
        elif outcome == PlannerOutcome.CANCELLED:
            status = "cancelled"
        elif outcome in (PlannerOutcome.THROTTLED, PlannerOutcome.REJECTED):
            status = "skipped"
            retryable = result.diagnostics.quota_limit == "max_queued_jobs"
        else:
            status = "failed"
            mark_scene(item, ChapterScene.Status.FAILED)

        transcripts = _write_transcripts(
            item,
            attempts,
            planner_slug=planner_slug,
            correlation_id=correlation_id,
            execution=execution,
            outcome=outcome.value,
            materialised=materialised,
        )
        phase_result = PhaseResult(
            status=status,
            reason=reason,
            retryable=retryable,
            execution_id=execution.pk,
            transcript_ids=tuple(t.pk for t in transcripts),
            summary=materialised.summary,
        )
        if close is not None:
            close(phase_result)
    logger.info(
        "phase %s of item %s on plan %s: %s%s",
        item.phase,
        item.backlog_id,
        item.plan_id,
        status,
        f" ({reason})" if reason else "",
    )
    return phase_result


def _materialise(item: BacklogItem, reply: Any, *, iteration: int, actor: str) -> Materialised:
    if item.phase == Phase.VISION:
        return materialise_vision(item, reply, actor=actor)
    if item.phase == Phase.ITERATIVE:
        return materialise_iterative(item, reply, iteration=iteration)
    if item.phase == Phase.CHAPTER_ARCHITECT:
        return materialise_chapter(item, reply)
    if item.phase == Phase.SCROLL_REFINER:
        blueprint = resolve_blueprint(item)
        if blueprint is None:  # params_for refused this case before the call
            raise PhaseInputError("the chapter blueprint disappeared during the phase")
        return materialise_scroll(item, reply, blueprint=blueprint, actor=actor)
    if item.phase == Phase.SCENE_WEAVER:
        return materialise_scene(item, reply)
    raise PhaseInputError(f"unknown phase {item.phase!r}")


def _ended_before_agent(
    item: BacklogItem,
    planner: PlannerBase[Any],
    correlation_id: str,
    reason: str,
    close: CloseHook | None,
) -> PhaseResult:
    """The phase is blocked before any model call (lore gate, missing target): one skipped
    transcript says why, so the item's history shows it was tried and what holds it."""
    attempt = _no_call_attempt(item, reason, planner.metadata.steps[0].template_id)
    with transaction.atomic():
        lock_plan(item.plan_id)
        mark_scene(item, ChapterScene.Status.BLOCKED)
        transcripts = _write_transcripts(
            item,
            [attempt],
            planner_slug=planner.slug,
            correlation_id=correlation_id,
            execution=None,
            outcome="blocked",
            materialised=Materialised(),
        )
        result = PhaseResult(
            status="blocked", reason=reason, transcript_ids=tuple(t.pk for t in transcripts)
        )
        if close is not None:
            close(result)
    logger.info(
        "phase %s of item %s blocked before the agent: %s", item.phase, item.backlog_id, reason
    )
    return result


def _ended_by_exception(
    item: BacklogItem,
    planner_slug: str,
    correlation_id: str,
    run: FinishedRun,
    reason: str,
    retryable: bool,
    close: CloseHook | None,
) -> PhaseResult:
    """The planner raised (a transient agent error, or a bug): its execution row is stored
    as ``plan()`` would store it, with a transcript per agent call it made."""
    attempts = [_Attempt.from_agent_attempt(a) for a in run.result.attempts]
    if not attempts:
        attempts = [_no_call_attempt(item, reason, "")]
        attempts[0].validation_status = PhaseTranscript.Validation.UNKNOWN
    with transaction.atomic():
        lock_plan(item.plan_id)
        execution = run.save()
        if not retryable:
            mark_scene(item, ChapterScene.Status.FAILED)
        transcripts = _write_transcripts(
            item,
            attempts,
            planner_slug=planner_slug,
            correlation_id=correlation_id,
            execution=execution,
            outcome=PlannerOutcome.FAILED.value,
            materialised=Materialised(),
        )
        result = PhaseResult(
            status="failed",
            reason=reason,
            retryable=retryable,
            execution_id=execution.pk,
            transcript_ids=tuple(t.pk for t in transcripts),
        )
        if close is not None:
            close(result)
    return result


def _no_call_attempt(item: BacklogItem, reason: str, template_id: str) -> _Attempt:
    return _Attempt(
        attempt=1,
        kind="none",
        agent_phase=item.phase,
        request=[],
        validation_status=PhaseTranscript.Validation.SKIPPED,
        validation_details=[reason] if reason else [],
        template_id=template_id,
        error=reason,
    )


# --- transcripts ----------------------------------------------------------------------------------


def _write_transcripts(
    item: BacklogItem,
    attempts: Sequence[_Attempt],
    *,
    planner_slug: str,
    correlation_id: str,
    execution: PlannerExecution | None,
    outcome: str,
    materialised: Materialised,
) -> list[PhaseTranscript]:
    plan = item.plan
    blueprint = materialised.blueprint or item.blueprint
    scroll = materialised.scroll or item.scroll
    section = materialised.section or item.section
    scene = materialised.scene or item.scene
    base_metadata: dict[str, Any] = {
        "backlogItemId": item.backlog_id,
        "backlogItemPk": item.pk,
        "planId": plan.pk,
        "phase": item.phase,
        "branch": plan.branch,
        "phaseKey": phase_key(item, branch=plan.branch),
        "planner": planner_slug,
        "correlationId": correlation_id,
        "outcome": outcome,
    }
    for prefix, row, slug_field in (
        ("blueprint", blueprint, "slug"),
        ("scroll", scroll, "scroll_slug"),
        ("section", section, "section_slug"),
        ("scene", scene, "scene_slug"),
    ):
        if row is not None:
            base_metadata[f"{prefix}Id"] = row.pk
            base_metadata[f"{prefix}Slug"] = getattr(row, slug_field)
    if materialised.summary:
        base_metadata["materialised"] = materialised.summary

    earlier = _transcript_count(item.pk)
    rows = []
    for offset, attempt in enumerate(attempts, start=1):
        number = earlier + offset
        rows.append(
            PhaseTranscript(
                plan=plan,
                phase=item.phase,
                backlog_item=item,
                blueprint=blueprint,
                scroll=scroll,
                section=section,
                scene=scene,
                execution=execution,
                attempt=number,
                is_retry=number > 1,
                request=attempt.request,
                response=attempt.response,
                prompt_tokens=attempt.prompt_tokens,
                completion_tokens=attempt.completion_tokens,
                latency_ms=attempt.latency_ms,
                validation_status=attempt.validation_status,
                validation_details=attempt.validation_details,
                template_id=attempt.template_id,
                template_version=attempt.template_version,
                metadata={
                    **base_metadata,
                    "attemptKind": attempt.kind,
                    "agentPhase": attempt.agent_phase,
                    "runAttempt": attempt.attempt,
                    **({"error": attempt.error} if attempt.error else {}),
                },
            )
        )
    # bulk_create keeps this to one INSERT; the rows get their pks back on every backend we use.
    return PhaseTranscript.objects.bulk_create(rows)


def _transcript_count(item_pk: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_transcript_count_sql(), [item_pk])
        (count,) = cursor.fetchone()
    return int(count)


@functools.cache
def _transcript_count_sql() -> str:
    """Built once: every phase numbers its transcripts after the item's earlier ones."""
    return (
        f"SELECT COUNT(*) FROM {table(PhaseTranscript)}"
        f" WHERE {column(PhaseTranscript, 'backlog_item')} = %s"
    )


def _queued_jobs(item: BacklogItem, planner_slug: str) -> int | None:
    """Other real items of the same phase running right now (the queued-jobs quota); None,
    uncounted, when no ``max_queued_jobs`` quota applies to the planner."""
    if quotas_for(planner_slug).max_queued_jobs is None:
        return None
    return (
        BacklogItem.objects.filter(
            phase=item.phase, status=BacklogStatus.IN_PROGRESS, synthetic=False
        )
        .exclude(pk=item.pk)
        .count()
    )
