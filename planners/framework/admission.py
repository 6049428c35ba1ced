"""The quota check that admits or refuses a run before it spends anything.

Iterations over the limit end the run as ``throttled`` (try again later, with a smaller plan);
queued jobs or tokens over the limit end it as ``rejected``. Token use is counted per planner over
a rolling ``TOKEN_QUOTA_WINDOW`` from the stored ``PlannerExecution`` rows, so the quota holds
across worker processes and restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Sum
from django.utils import timezone

from planners.framework.limits import PlannerQuotas
from planners.models import PlannerExecution, PlannerOutcome

TOKEN_QUOTA_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class QuotaBreach:
    """Which limit refused the run, and a sentence saying by how much."""

    outcome: PlannerOutcome
    limit: str
    message: str


def estimate_tokens(text: str) -> int:
    """About four characters a token: good enough to refuse a prompt that cannot fit."""
    return (len(text) + 3) // 4


#: What a planner's first run is expected to spend, before any run of it says better.
FIRST_RUN_TOKENS = 2000


def expected_run_tokens(planner_slug: str) -> int:
    """Tokens a run of the planner will likely spend, counted before its prompt is built (for
    the provider's tokens-a-minute limit): what its latest run spent, prompt, completion and
    critique; ``FIRST_RUN_TOKENS`` when it never ran."""
    latest = (
        PlannerExecution.objects.filter(planner_slug=planner_slug)
        .order_by("-created_at", "-pk")
        .values_list("prompt_tokens", "completion_tokens", "critique_tokens")
        .first()
    )
    return (sum(latest) if latest is not None else 0) or FIRST_RUN_TOKENS


def tokens_used(planner_slug: str, *, window: timedelta = TOKEN_QUOTA_WINDOW) -> int:
    """Tokens (prompt, completion and critique) this planner spent in the rolling window."""
    totals = PlannerExecution.objects.filter(
        planner_slug=planner_slug, created_at__gte=timezone.now() - window
    ).aggregate(
        prompt=Sum("prompt_tokens"),
        completion=Sum("completion_tokens"),
        critique=Sum("critique_tokens"),
    )
    return sum(v or 0 for v in totals.values())


def check_admission(
    quotas: PlannerQuotas, *, planner_slug: str, iteration: int, queued_jobs: int
) -> QuotaBreach | None:
    """Step 2 of the lifecycle: iterations, queued jobs, then the token budget."""
    if quotas.max_iterations is not None and iteration > quotas.max_iterations:
        return QuotaBreach(
            PlannerOutcome.THROTTLED,
            "max_iterations",
            f"iteration {iteration} exceeds the quota of {quotas.max_iterations} iterations"
            f" for planner {planner_slug!r}.",
        )
    if quotas.max_queued_jobs is not None and queued_jobs > quotas.max_queued_jobs:
        return QuotaBreach(
            PlannerOutcome.REJECTED,
            "max_queued_jobs",
            f"{queued_jobs} jobs already queued for planner {planner_slug!r}, over the quota of"
            f" {quotas.max_queued_jobs}.",
        )
    if quotas.max_tokens is not None:
        used = tokens_used(planner_slug)
        if used >= quotas.max_tokens:
            return _token_breach(planner_slug, used, 0, quotas.max_tokens)
    return None


def check_prompt_tokens(
    quotas: PlannerQuotas, *, planner_slug: str, prompt_tokens: int
) -> QuotaBreach | None:
    """After rendering: refuse a run whose prompt alone would take the planner over budget."""
    if quotas.max_tokens is None:
        return None
    used = tokens_used(planner_slug)
    if used + prompt_tokens > quotas.max_tokens:
        return _token_breach(planner_slug, used, prompt_tokens, quotas.max_tokens)
    return None


def _token_breach(planner_slug: str, used: int, prompt: int, limit: int) -> QuotaBreach:
    hours = int(TOKEN_QUOTA_WINDOW.total_seconds() // 3600)
    needed = f" and this prompt needs about {prompt}" if prompt else ""
    return QuotaBreach(
        PlannerOutcome.REJECTED,
        "max_tokens",
        f"planner {planner_slug!r} used {used} tokens in the last {hours}h{needed}; the quota is"
        f" {limit}.",
    )
